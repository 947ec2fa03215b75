<?php
// socket-push's README, in PHP, with the classes that `generate-php` wrote from the node's /api:
//   $authService = new NodeRPC_Auth_Service('127.0.0.1', 8181);
//   $authService->set(1, 'test');
// Usage: php example.php [host] [port]   (SOCKETPUSH_API_KEY when the node has one;
//        SOCKETPUSH_PHP_CLIENT to load the generated classes from elsewhere than ./generated)
declare(strict_types=1);

require (getenv('SOCKETPUSH_PHP_CLIENT') ?: __DIR__ . '/generated') . '/autoload.php';

$host = $argv[1] ?? '127.0.0.1';
$port = (int) ($argv[2] ?? 8181);
$apiKey = getenv('SOCKETPUSH_API_KEY') ?: null;

try {
    $authService = new SocketPush\AuthService($host, $port, $apiKey);
    $authService->set(1, 'test');
    echo 'auth.set: session test belongs to user ', $authService->check('test'), "\n";

    $channelService = new SocketPush\ChannelService($host, $port, $apiKey);
    $channelService->subscribe(1, 'news');
    echo 'channel.subscribe: user 1 is subscribed to ', implode(', ', $channelService->getSubscriptions(1)), "\n";

    $userService = new SocketPush\UserService($host, $port, $apiKey);
    echo 'user.publish: reached ', $userService->publish(1, ['text' => 'hello user 1']), " connection(s)\n";
    echo 'channel.publish: reached ', $channelService->publish('news', ['text' => 'hello news']), " connection(s)\n";
} catch (SocketPush\ServiceException $e) {
    fwrite(STDERR, "SocketPush answered {$e->getErrorCode()}: {$e->getMessage()}\n");
    exit(1);
}
