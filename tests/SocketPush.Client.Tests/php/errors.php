<?php
// One line per failing call: "name class code httpStatus | message".
// Usage: php errors.php GENERATED_DIR PORT CLOSED_PORT SILENT_PORT
declare(strict_types=1);

require $argv[1] . '/autoload.php';

function report(string $name, callable $call): void
{
    try {
        $call();
        echo "$name returned without an exception\n";
    } catch (SocketPush\ServiceException $e) {
        echo $name, ' ', $e::class, ' ', $e->getErrorCode(), ' ', $e->getHttpStatus(), ' | ', $e->getMessage(), "\n";
    }
}

$port = (int) $argv[2];
report('check-unknown-session', static fn () => (new SocketPush\AuthService('127.0.0.1', $port))->check('no-such-session'));
report('bad-user-id', static fn () => (new SocketPush\UserService('127.0.0.1', $port))->publish('has space', 'x'));
report('node-down', static fn () => (new SocketPush\ChannelService('127.0.0.1', (int) $argv[3], null, 5.0))->listAll());
report('node-silent', static fn () => (new SocketPush\UserService('127.0.0.1', (int) $argv[4], null, 0.5))->listAll());
