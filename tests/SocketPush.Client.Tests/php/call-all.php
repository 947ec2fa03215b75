<?php
// Calls each {class, method, args} of a JSON file in order; prints
// [{"result": ..., "type": PHP type, "keys": keys of a keyed array or null} | {"error": code, "message": ...}].
// type and keys say what PHP itself got, which json_encode below blurs (an int and a float, a list and a keyed array).
// Usage: php call-all.php GENERATED_DIR HOST PORT CALLS.json
declare(strict_types=1);

require $argv[1] . '/autoload.php';

$results = [];
foreach (json_decode(file_get_contents($argv[4]), true, 512, JSON_THROW_ON_ERROR) as $call) {
    $service = new $call['class']($argv[2], (int) $argv[3]);
    try {
        $result = $service->{$call['method']}(...$call['args']);
        $results[] = [
            'result' => $result,
            'type' => get_debug_type($result),
            'keys' => \is_array($result) && !array_is_list($result) ? array_keys($result) : null,
        ];
    } catch (SocketPush\ServiceException $e) {
        $results[] = ['error' => $e->getErrorCode(), 'message' => $e->getMessage()];
    }
}

echo json_encode($results, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES);
