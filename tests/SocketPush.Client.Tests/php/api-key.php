<?php
// The API key from SOCKETPUSH_API_KEY: none, a wrong one and the right one.
// Usage: php api-key.php GENERATED_DIR PORT
declare(strict_types=1);

require $argv[1] . '/autoload.php';

$port = (int) $argv[2];
foreach (['no-key' => null, 'wrong-key' => 'wrong-key-wrong-key-wrong-key'] as $name => $key) {
    try {
        (new SocketPush\AuthService('127.0.0.1', $port, $key))->set('php-key-user', 'php-key-session');
        echo "$name accepted\n";
    } catch (SocketPush\ServiceException $e) {
        echo $name, ' ', $e->getErrorCode(), ' ', $e->getHttpStatus(), "\n";
    }
}

$auth = new SocketPush\AuthService('127.0.0.1', $port, getenv('SOCKETPUSH_API_KEY'));
$auth->set('php-key-user', 'php-key-session');
echo 'right-key ok ', $auth->check('php-key-session'), "\n";
