<?php
// Writes real PHP sessions into Redis through the phpredis session handler
// (session.save_handler=redis), one per serialize_handler, as a web request would:
// session_start(), set variables, session_write_close(). Run by generate.sh.
// Usage: php -d session.save_handler=redis -d session.save_path=tcp://127.0.0.1:PORT sessions.php HANDLER ID USER
[$_, $handler, $id, $user] = $argv;
ini_set('session.serialize_handler', $handler);
ini_set('session.use_cookies', '0');
ini_set('session.use_strict_mode', '0');
ini_set('session.gc_maxlifetime', '1440');
ini_set('redis.session.locking_enabled', '1');
session_id($id);
session_start();
$_SESSION['user'] = $user;
$_SESSION['user_id'] = 42;
$_SESSION['roles'] = ['ROLE_USER', 'ROLE_ADMIN'];
$_SESSION['cart'] = ['items' => [['sku' => 'tea', 'qty' => 2], ['sku' => 'mug', 'qty' => 1]], 'total' => 12.5];
$o = new stdClass();
$o->theme = 'dark';
$o->locale = 'fr_FR';
$_SESSION['prefs'] = $o;
$_SESSION['flag'] = true;
$_SESSION['nothing'] = null;
$_SESSION['greeting'] = "héllo \x1b[31mred\x1b[0m";
session_write_close();
