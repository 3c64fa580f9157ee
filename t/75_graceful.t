# A graceful restart under signed-in load fails no request: a private Apache
# (mpm_event, then mpm_prefork), clients sending signed-in requests without a
# pause while the server restarts gracefully twice.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Handle;
use Time::HiRes qw(time sleep);
use EntraTest;
use EntraSessions;
use EntraStores;

mock_reset();

for my $mpm (qw(event prefork)) {
    my $S = eval { start_apache(name => "graceful_$mpm", mpm => $mpm) };
    ok($S, "$mpm: a private Apache starts") or diag($@);
    next unless $S;
    my $ua = new_ua();
    is(sign_in_at($ua, $S->url('/app/start'))->code, 200, "$mpm: signed in");
    my $cookie = 'entra_session=' . session_cookie($ua);

    # 3 clients, each sending requests for 5 seconds; each reports "ok bad"
    my @kids;
    for my $k (1 .. 3) {
        pipe(my $rd, my $wr) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $rd;
            my $c = new_ua(no_cookies => 1, timeout => 10);
            my ($ok, $bad, $until, $n) = (0, 0, time + 5, 0);
            while (time < $until) {
                my $r = $c->get($S->url("/app/load/$k/" . $n++), Cookie => $cookie);
                $r->code == 200 ? $ok++ : $bad++;
            }
            print $wr "$ok $bad\n";
            close $wr;
            require POSIX;
            POSIX::_exit(0);
        }
        close $wr;
        push @kids, [$pid, $rd];
    }
    sleep 1;
    ok($S->graceful, "$mpm: a graceful restart under load");
    sleep 1;
    ok($S->graceful, "$mpm: and another");
    my ($ok, $bad) = (0, 0);
    for my $kid (@kids) {
        my $fh = $kid->[1];
        my ($o, $b) = split ' ', (<$fh> // "0 1");
        $ok += $o;
        $bad += $b;
        waitpid($kid->[0], 0);
    }
    cmp_ok($ok, '>', 50, "$mpm: requests kept coming ($ok)");
    is($bad, 0, "$mpm: not one failed across the restarts");
    is(new_ua(no_cookies => 1)->get($S->url('/app/after'), Cookie => $cookie)->code, 200,
       "$mpm: the session works after them");
    $S->stop;
}

done_testing();
