<?php
// SPDX-License-Identifier: MIT
// Writes the PHP-made test vectors in vectors/ (run from tests/php_serial,
// with the PHP 8 CLI: `php gen_vectors.php`). The files are checked in, so
// the tests need no PHP; rerun only to extend them.
//   floats.txt  "<hex bits of the double> <serialize()>" per line
//   values.txt  "<md5(serialize())> <hex of serialize()>" per line
mt_srand(20240607);

function bits_hex(float $f): string { return bin2hex(strrev(pack('d', $f))); }

$floats = [0.0, -0.0, INF, -INF, NAN, 0.1, 1/3, 2/3, 1e25, 1.5e-7, 100.0, 1e-5, 1e-4,
           1e15, 1e16, 1e17, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.3,
           -1.5, 123456789012345678.0, 9007199254740993.0, 1.1, 1.123456789, 5.2e25];
for ($k = -1074; $k <= 1023; $k++) $floats[] = 2.0 ** $k;            // powers of two
for ($i = 0; $i < 3000; $i++) {                                       // any bit pattern
    $f = unpack('d', pack('P', mt_rand(0, PHP_INT_MAX) ^ (mt_rand(0, 1) << 63)))[1];
    if (is_finite($f)) $floats[] = $f;
}
for ($i = 0; $i < 2000; $i++)                                         // short decimals
    $floats[] = (float)mt_rand(-999999, 999999) / (10 ** mt_rand(0, 12)) * (10 ** mt_rand(0, 30));
$out = '';
foreach ($floats as $f) $out .= bits_hex($f) . ' ' . serialize($f) . "\n";
file_put_contents(__DIR__ . '/vectors/floats.txt', $out);

function rand_string(): string {
    switch (mt_rand(0, 5)) {
    case 0: return '';
    case 1: return (string)mt_rand(-20, 20);                    // numeric: an integer key
    case 2: return ['05', '-0', ' 1', '1 ', '+1', '1.5', '9223372036854775808',
                    '-9223372036854775808', '9223372036854775807', "a\0b", 'ключ'][mt_rand(0, 10)];
    case 3: return random_bytes(mt_rand(1, 12));
    default:
        $s = '';
        for ($i = mt_rand(1, 10); $i > 0; $i--) $s .= chr(mt_rand(32, 126));
        return $s;
    }
}

function rand_value(int $depth) {
    switch (mt_rand(0, $depth > 4 ? 6 : 9)) {
    case 0: return null;
    case 1: return (bool)mt_rand(0, 1);
    case 2: return mt_rand(PHP_INT_MIN, PHP_INT_MAX);
    case 3: return mt_rand(-1000, 1000);
    case 4: return [0.1, -0.0, INF, -INF, NAN, 1e100, 1.5e-7, mt_rand() / 7, -mt_rand() / 3.0][mt_rand(0, 8)];
    case 5: case 6: return rand_string();
    case 7: $a = []; for ($i = mt_rand(0, 5); $i > 0; $i--) $a[] = rand_value($depth + 1); return $a;
    default:
        $a = [];
        for ($i = mt_rand(0, 5); $i > 0; $i--) {
            $k = mt_rand(0, 2) ? rand_string() : mt_rand(-5, 5);
            $a[$k] = rand_value($depth + 1);
        }
        return $a;
    }
}

$out = '';
for ($i = 0; $i < 1500; $i++) {
    $s = serialize(rand_value(0));
    $out .= md5($s) . ' ' . bin2hex($s) . "\n";
}
file_put_contents(__DIR__ . '/vectors/values.txt', $out);
