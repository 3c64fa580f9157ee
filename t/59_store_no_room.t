# The README's "Errors an administrator sees" row for a session the store
# has no room for (ENTRA00420), checked as t/57_errors_table.t checks the
# others: a private server whose shmcb is far too small for one session
# (EntraSessionStore socache shmcb:<file>(16384): one sub-cache of about
# 16 KB, where the session is about 20 KB) answers the sign-in with 500 and
# a page that says so, sets no session cookie, and logs ENTRA00420 once, at
# error, saying what to do.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Spec;
use IO::Socket::INET;
use POSIX ();
use Apache::Test ();
use EntraTest;
use EntraStores;

my $shm = File::Spec->catfile(Apache::Test::vars('t_logs'), 'shmcb_no_room');
mock_reset();
my $S = eval { start_apache(name => 'no_room', store => "socache shmcb:$shm(16384)") };
ok($S, 'a server with a 16 KB shmcb starts') or diag($@);
plan skip_all => 'no server' unless $S;

# a session of some 20 KB that no compression shrinks much (claims of random text)
my $noise = join '', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9)[int rand 62] } 1 .. 20_000;
mock_config({ user => { noise => $noise } });
my $mark = $S->log_mark;
my ($final, $s) = sign_in_url(new_ua(), $S->url('/app/no-room'));
mock_reset();
my $r = $s->{callback};
is($r && $r->code, 500, 'a session the store has no room for: 500');
like($r ? $r->decoded_content : '', qr/more information than this server can keep/, '... a page that says so');
ok($r && !find_set_cookie($r, qr/^entra_session(?:_\d+)?$/), '... no session cookie');

my @all = grep { /ENTRA\d{5}:/ } $S->log_since($mark);
my @id = grep { /\bENTRA00420:/ } @all;
is(scalar @id, 1, 'one ENTRA00420 line') or diag(join "\n", @all);
like($id[0] // '', qr/\[auth_entra:error\]/, '... at error');
like($id[0] // '', qr/no room for a session of \d+ bytes .*shmcb:<file>\(<bytes>\)/,
     '... saying why and what to change');

# a small session still fits: the store works, only the big one is refused
is(sign_in_url(new_ua(), $S->url('/app/small'))->code, 200, 'a small session on the same server: signed in');

$S->stop;

# The same server, in the foreground: a stop is a clean exit. (The shmcb
# store is kept in the process pool across restarts; mod_socache_shmcb was
# unloaded before its cleanup there ran, and every stop ended in SIGSEGV.)
{
    my $httpd = Apache::Test::vars('httpd') || '/usr/sbin/apache2';
    my $mark = $S->log_mark;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', $S->dir . '/foreground.out';
        open STDERR, '>&', \*STDOUT;
        exec $httpd, '-f', $S->{conf}, '-DFOREGROUND' or POSIX::_exit(127);
    }
    # Up once it says so (its signal handlers are set by then): the port
    # alone may still be held by the children of the stop above.
    my $up = 0;
    for (1 .. 300) {
        last if ($up = grep { /resuming normal operations/ } $S->log_since($mark));
        select undef, undef, undef, 0.1;
    }
    ok($up, 'the shmcb server runs again in the foreground');
    kill 'TERM', $pid;
    my $waited = 0;
    for (1 .. 150) {
        last if ($waited = waitpid($pid, POSIX::WNOHANG()));
        select undef, undef, undef, 0.1;
    }
    kill 'KILL', $pid unless $waited;
    waitpid($pid, 0) unless $waited;
    is($? & 127, 0, 'stopped, its parent ends by no signal (no SIGSEGV at exit)');
    is($? >> 8, 0, '... with exit status 0');
}

# shmcb too small to start at all: start-up fails with the reason, as an
# exit, not a crash
{
    my $tiny = File::Spec->catfile(Apache::Test::vars('t_logs'), 'shmcb_tiny');
    my $T = eval { start_apache(name => 'tiny_shmcb', store => "socache shmcb:$tiny(8192)") };
    my $err = $@;
    ok(!$T, 'a server with an 8 KB shmcb does not start');
    like($err, qr/apache2 -k start failed \(256\)/, '... apache2 exits with status 1 (no crash)');
    like($err, qr/ENTRA00102: EntraSessionStore socache shmcb:\S+\(8192\) cannot be initialised/,
         '... naming the store (ENTRA00102)');
}
done_testing();
