<?php
// Prints, as JSON, the public methods each generated service class declares: parameters and doc comment.
// Usage: php describe.php GENERATED_DIR
declare(strict_types=1);

require $argv[1] . '/autoload.php';

$classes = [];
foreach (glob($argv[1] . '/*Service.php') as $file) {
    $class = 'SocketPush\\' . basename($file, '.php');
    $methods = [];
    foreach ((new ReflectionClass($class))->getMethods(ReflectionMethod::IS_PUBLIC) as $method) {
        if ($method->getDeclaringClass()->getName() !== $class) {
            continue;
        }

        $methods[$method->getName()] = [
            'params' => array_map(static fn (ReflectionParameter $p) => $p->getName(), $method->getParameters()),
            'doc' => (string) $method->getDocComment(),
        ];
    }

    $classes[$class] = $methods;
}

echo json_encode($classes, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES);
