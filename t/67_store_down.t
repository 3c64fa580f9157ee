# A session store that goes down: a signed-in request gets 503 and one error
# line naming the store (not 500, not a login loop); when the store is back
# on the same port the module uses it again by itself (no Apache restart).
# This test owns the Redis on ENTRA_REDIS_FLAKY_PORT (entra_st_flaky).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Spec;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);
use EntraTest;
use EntraStores;

my $port = $ENV{ENTRA_REDIS_FLAKY_PORT} or plan skip_all => 'run through t/TEST';
my $vh = 'entra_st_flaky';
my $logs = Apache::Test::vars('t_logs');
my $redis = own_redis(port => $port, log => "$logs/redis_flaky.log",
                      args => ['--save', '', '--appendonly', 'no']);
sub redis_up    { $redis->up }
sub start_redis { $redis->start }
sub stop_redis  { $redis->stop }

sub httpd_pid {
    open my $fh, '<', "$logs/httpd.pid" or return '';
    my $p = <$fh> // '';
    chomp $p;
    return $p;
}

# the module's error lines since a mark, and those that name this store
sub store_errors {
    my $mark = shift;
    my @err = grep { /\[auth_entra:(?:error|crit|alert|emerg)\]/ } log_since($mark);
    return (\@err, [grep { /ENTRA0040[678]:.*\bredis:127\.0\.0\.1:$port\b/ } @err]);
}

ok(!redis_up(), "nothing answers on the flaky port $port yet");
ok(start_redis(), 'Redis started on it');
my $httpd = httpd_pid();
mock_reset();

# ---- signed in while the store is up
my $ua = new_ua();
is(sign_in($ua, $vh, '/app/')->code, 200, 'signed in (session in Redis)');
my $cookie = session_cookie($ua);
is($ua->get(url($vh, '/app/again'))->code, 200, '... and signed in on the next request');

# a memcache session for the memcache-down check below
my $mua = new_ua();
is(sign_in($mua, 'entra_st_memcache', '/app/')->code, 200, 'signed in on the memcache vhost');
my $mc_cookie = session_cookie($mua);

# ---- the store goes down
ok(stop_redis(), 'Redis stopped');
ok(!redis_up(), '... and does not answer');
for my $n (1, 2) {
    my $mark = log_mark();
    my $r = $ua->get(url($vh, "/app/down$n"));
    is($r->code, 503, "store down, signed-in request $n: 503") or diag($r->status_line);
    ok(!is_login_redirect($r), '... not a redirect to sign in (no login loop)');
    unlike(find_set_cookie($r, 'entra_session') // '', qr/;\s*Max-Age=0\b/i,
           '... and the session cookie is not deleted');
    my ($err, $named) = store_errors($mark);
    is(scalar @$named, 1, '... one error line naming the store (ENTRAnnnnn ... redis:127.0.0.1:port)')
        or diag(join "\n", @$err);
    is(scalar @$err, scalar @$named, '... and no other error line from the module')
        or diag(join "\n", @$err);
}
ok(defined cookie_value($ua, 'entra_session'), 'the browser still holds its session cookie');

# a sign-in that finishes while the store is down: 503, not 500
{
    my $mark = log_mark();
    my $b = new_ua();
    my ($final, $s) = sign_in($b, $vh, '/app/new');
    ok(is_login_redirect($s->{start}), 'store down, no session: still sent to sign in');
    is($s->{callback} && $s->{callback}->code, 503, '... the callback cannot store the session: 503')
        or diag($s->{callback} ? $s->{callback}->status_line : 'no callback');
    ok(!find_set_cookie($s->{callback} || HTTP::Response->new, 'entra_session'),
       '... and sets no session cookie');
    my ($err, $named) = store_errors($mark);
    cmp_ok(scalar @$named, '>=', 1, '... an error line names the store') or diag(join "\n", @$err);
}

# memcache that is not there: the same
{
    my $mark = log_mark();
    my $r = replay($mc_cookie)->get(url('entra_st_mc_down', '/app/mc'));
    is($r->code, 503, 'memcache store down, signed-in request: 503') or diag($r->status_line);
    my @named = grep { /\[auth_entra:error\].*ENTRA0040[678]:.*\bmemcache:127\.0\.0\.1:$port\b/ }
                log_since($mark);
    is(scalar @named, 1, '... one error line naming the memcache store');
}

# ---- the store comes back on the same port: the module recovers by itself
ok(start_redis(), 'Redis started again on the same port');
my ($ok, $tries, @codes) = (0, 0);
my $until = time + 30;
my $nb;
while (time < $until) {
    $tries++;
    $nb = new_ua();
    my $r = sign_in($nb, $vh, '/app/back');
    push @codes, $r->code;
    if ($r->code == 200) { $ok = 1; last }
    sleep 1;
}
ok($ok, "a new sign-in works again without restarting Apache ($tries tries: @codes)");
cmp_ok($tries, '<=', 15, '... within 15 s');
is(httpd_pid(), $httpd, '... (the same httpd)');
if ($ok) {
    my $c = session_cookie($nb);
    is($nb->get(url($vh, '/app/next'))->code, 200, 'the new session works on the next request');
    is(replay($c)->get(url($vh, '/app/replay'))->code, 200, '... and from its cookie alone');
    my $old = $ua->get(url($vh, '/app/old'));
    ok(is_login_redirect($old),
       'the session from before the outage (Redis kept nothing) -> 302 to sign-in, not 503')
        or diag($old->status_line);
    is($nb->get(url($vh, '/.auth/logout'), SAME_SITE)->code, 302, 'logout');
    ok(is_login_redirect(replay($c)->get(url($vh, '/app/'))), '... ends it');
}

stop_redis();

done_testing();
