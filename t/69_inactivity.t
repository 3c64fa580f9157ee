# EntraSessionInactivityTimeout with a socache store (4 s here): the session
# slides while it is used, and is gone, from the store as well, once it idles
# longer than that.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use EntraTest;
use EntraStores;

use constant TIMEOUT => 4;
my %vh = (redis => 'entra_st_idle', shmcb => 'entra_st_idle_shmcb');

mock_reset();
my $mark = log_mark();
my %before = map { $_ => 1 } redis_keys();
my (%ua, %cookie);
for my $s (sort keys %vh) {
    $ua{$s} = new_ua();
    is(sign_in($ua{$s}, $vh{$s}, '/app/')->code, 200, "$s: signed in");
    $cookie{$s} = session_cookie($ua{$s});
}
my $signed_in = time;

# the session's own key in Redis: the one whose value is the sealed session
my @new = grep { !$before{$_} } redis_keys();
my $dump = redis_dump(@new);
my ($skey) = sort { length($dump->{$b} // '') <=> length($dump->{$a} // '') } @new;
ok($skey, 'redis: the session is in Redis') or BAIL_OUT('no session key in Redis');
my $ttl = redis_cmd('TTL', $skey);
ok($ttl > 0 && $ttl <= TIMEOUT, "redis: it expires with the inactivity timeout (TTL $ttl s)");

# ---- used every second for 6 s (longer than the timeout): it slides
my @codes;
for my $i (1 .. 6) {
    sleep 1;
    push @{ $codes[$i - 1] }, map { $ua{$_}->get(url($vh{$_}, "/app/use$i"))->code } sort keys %vh;
}
my $used = time - $signed_in;
is_deeply(\@codes, [([200, 200]) x 6],
          sprintf('used every second for %.0f s (> %d s): still signed in on both', $used, TIMEOUT));
$ttl = redis_cmd('TTL', $skey);
ok($ttl >= TIMEOUT - 2 && $ttl <= TIMEOUT, "redis: the store's expiry was pushed out too (TTL $ttl s)");

# ---- idle longer than the timeout: gone
sleep TIMEOUT + 2;
is(scalar redis_cmd('EXISTS', $skey), 0, 'redis: after idling, Redis has forgotten the session');
for my $s (sort keys %vh) {
    my $r = replay($cookie{$s})->get(url($vh{$s}, '/app/idle'));
    ok(is_login_redirect($r), "$s: after idling " . (TIMEOUT + 2) . ' s the cookie -> 302 to sign-in')
        or diag($r->status_line);
    is(sign_in(new_ua(), $vh{$s}, '/app/')->code, 200, "$s: ... and a new sign-in works");
}
is_deeply([entra_problems($mark)], [], 'no warn/error lines from the module');

done_testing();
