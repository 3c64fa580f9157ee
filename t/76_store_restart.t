# A Redis session store restarted under load (issue 10): while it is down a
# signed-in request gets 503 (never a sign-in redirect, never 500); as soon
# as it answers again every request is 200 as the same user, though every
# server process and thread still held pooled connections to the Redis that
# went away.  Redis keeps its data on disk here (append-only file, fsync on
# every write), so the sessions outlive the restart.  On the suite's Apache
# (mpm_event, the vhost entra_st_restart), then on a private mpm_prefork one.
# This test owns the Redis on ENTRA_REDIS_RESTART_PORT.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);
use EntraTest;
use EntraSessions;
use EntraStores;

my $port = $ENV{ENTRA_REDIS_RESTART_PORT} or plan skip_all => 'run through t/TEST';
my $logs = Apache::Test::vars('t_logs');
my $data = "$logs/redis_restart";
my $USER = USER->{preferred_username};
# redis-server with its data on disk: what it acknowledged is there after a
# restart
my $redis = own_redis(port => $port, log => "$logs/redis_restart.log",
                      args => ['--dir', $data, '--save', '', '--appendonly', 'yes',
                               '--appendfsync', 'always']);
sub redis_up    { $redis->up }
sub start_redis { $redis->start }
sub stop_redis  { $redis->stop }

# "code user" of one request with the session cookie
sub once {
    my ($url, $cookie) = @_;
    my $r = new_ua(no_cookies => 1, timeout => 10)->get($url, Cookie => "entra_session=$cookie");
    my $u = $r->code == 200 ? echo_header(echo($r) || {}, 'X-Test-Remote-User') // '-' : '-';
    return $r->code . " $u";
}

# $n requests at once, each on its own connection: { "code user" => count }
sub burst {
    my ($n, $url, $cookie) = @_;
    my %seen;
    $seen{$_}++ for in_parallel($n, sub { once($url->("/app/burst/$_[0]"), $cookie) });
    return \%seen;
}

sub show { my $h = shift; join ', ', map { "$h->{$_} x '$_'" } sort keys %$h }

# Clients sending signed-in requests without a pause until $stop exists (at
# most 30 s); each request reported as "start end code".
sub start_load {
    my ($clients, $url, $cookie, $stop) = @_;
    my @kids;
    for my $k (1 .. $clients) {
        pipe(my $rd, my $wr) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $rd;
            my $ua = new_ua(no_cookies => 1, timeout => 10);
            my ($n, $until) = (0, time + 30);
            while (!-e $stop && time < $until) {
                my $t0 = time;
                my $r = $ua->get($url->("/app/load/$k/" . $n++), Cookie => "entra_session=$cookie");
                printf $wr "%.6f %.6f %d\n", $t0, time, $r->code;
            }
            close $wr;
            POSIX::_exit(0);
        }
        close $wr;
        push @kids, [$pid, $rd];
    }
    return \@kids;
}

sub collect_load {
    my $kids = shift;
    my @all;
    for my $k (@$kids) {
        my $fh = $k->[1];
        while (my $l = <$fh>) { push @all, [split ' ', $l] }
        waitpid($k->[0], 0);
    }
    return @all;
}

sub run_restart {
    my (%t) = @_;    # name, url => sub { path -> URL }, cookie, log_mark, log_since
    my ($name, $url, $cookie) = @t{qw(name url cookie)};

    # every process and thread gets pooled connections to this Redis
    my $warm = burst(24, $url, $cookie);
    is(show($warm), "24 x '200 $USER'", "$name: 24 requests at once, signed in") or diag(show($warm));

    my $stop = "$logs/redis_restart.stop";
    unlink $stop;
    my $load = start_load(3, $url, $cookie, $stop);
    sleep 0.5;
    my $mark = $t{log_mark}->();

    # ---- Redis goes away
    my $t_down = time;
    ok(stop_redis(), "$name: Redis stopped under load");
    ok(!redis_up(), "$name: ... and does not answer");
    my @down = map { once($url->("/app/down/$_"), $cookie) } 1 .. 4;
    is("@down", join(' ', ('503 -') x 4), "$name: store down: signed-in requests get 503")
        or diag("@down");
    my $dburst = burst(12, $url, $cookie);
    is(show($dburst), "12 x '503 -'", "$name: ... 12 at once too (no 302 to sign in, no 500)")
        or diag(show($dburst));

    # ---- Redis is back, with the sessions it had
    ok(start_redis(), "$name: Redis started again (same port, same data)");
    my $t_back = time;
    my $back = burst(24, $url, $cookie);
    is(show($back), "24 x '200 $USER'",
       "$name: at once, 24 requests on 24 connections: all 200 as the user (no 503, no 302)")
        or diag(show($back));
    my @seq = map { once($url->("/app/after/$_"), $cookie) } 1 .. 4;
    is("@seq", join(' ', ("200 $USER") x 4), "$name: ... and one after the other") or diag("@seq");
    sleep 0.5;
    open my $fh, '>', $stop or die "$stop: $!";
    close $fh;
    my @load = collect_load($load);
    unlink $stop;

    my (%before, %during, %after);
    for (@load) {
        my ($t0, $t1, $code) = @$_;
        ($t1 < $t_down ? \%before : $t0 > $t_back ? \%after : \%during)->{$code}++;
    }
    cmp_ok(scalar @load, '>', 20, "$name: load kept coming across the restart (" . @load . ')');
    is(show(\%before), show({ 200 => $before{200} || 0 }), "$name: load before: only 200")
        or diag(show(\%before));
    is_deeply([grep { $_ != 200 && $_ != 503 } keys %during], [],
              "$name: load while down: only 200 or 503 (" . show(\%during) . ')');
    ok($after{200} && keys %after == 1, "$name: load after: only 200 (" . show(\%after) . ')');

    # ---- a restart between two requests: nobody saw Redis go, every pooled
    # connection is stale (the first call on each fails: broken pipe, reset)
    $warm = burst(24, $url, $cookie);
    is(show($warm), "24 x '200 $USER'", "$name: 24 requests at once again (connections pooled)")
        or diag(show($warm));
    ok(stop_redis() && start_redis(), "$name: Redis restarted between two requests");
    $back = burst(24, $url, $cookie);
    is(show($back), "24 x '200 $USER'", "$name: ... then 24 at once: all 200 as the user")
        or diag(show($back));

    my @lines = $t{log_since}->($mark);
    my @info = grep { /\[auth_entra:info\].*ENTRA00413:.*redis:127\.0\.0\.1:$port\b.*reconnected/ }
               @lines;
    my @ours = grep { /\[auth_entra:(?:info|error)\]/ } @lines;
    ok(@info >= 1, "$name: the reconnection is logged at info, naming the store")
        or diag(join "\n", @ours[0 .. ($#ours < 20 ? $#ours : 20)]);
}

remove_tree($data);
make_path($data);
ok(!redis_up(), "nothing answers on port $port yet");
ok(start_redis(), 'Redis with an append-only file started on it');
mock_reset();

# ---- the suite's Apache: mpm_event, one process of 32 threads
{
    my $vh = 'entra_st_restart';
    my $ua = new_ua();
    is(sign_in($ua, $vh, '/app/')->code, 200, 'event: signed in (session in Redis)');
    run_restart(name => 'event', url => sub { url($vh, shift) }, cookie => session_cookie($ua),
                log_mark => \&log_mark, log_since => sub { log_since(shift) });
}

# ---- a private Apache on mpm_prefork: six processes, each with its own
# connections
{
    my $S = eval { start_apache(name => 'restart_prefork', mpm => 'prefork',
                                store => "socache redis:127.0.0.1:$port") };
    ok($S, 'prefork: a private Apache starts') or diag($@);
    if ($S) {
        my $ua = new_ua();
        is(sign_in_at($ua, $S->url('/app/start'))->code, 200, 'prefork: signed in');
        run_restart(name => 'prefork', url => sub { $S->url(shift) }, cookie => session_cookie($ua),
                    log_mark => sub { $S->log_mark }, log_since => sub { $S->log_since(shift) });
        $S->stop;
    }
}

stop_redis();
done_testing();
