<?php
// Calls each {class, method, args} of a JSON file in order; prints [{"result": ...} | {"error": code, "message": ...}].
// Usage: php call-all.php GENERATED_DIR HOST PORT CALLS.json
declare(strict_types=1);

require $argv[1] . '/autoload.php';

$results = [];
foreach (json_decode(file_get_contents($argv[4]), true, 512, JSON_THROW_ON_ERROR) as $call) {
    $service = new $call['class']($argv[2], (int) $argv[3]);
    try {
        $results[] = ['result' => $service->{$call['method']}(...$call['args'])];
    } catch (SocketPush\ServiceException $e) {
        $results[] = ['error' => $e->getErrorCode(), 'message' => $e->getMessage()];
    }
}

echo json_encode($results, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES);
