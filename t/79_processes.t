# Cross-process paths on mpm_prefork, with the processes pinned: a prefork
# child serves one connection at a time, so connections kept open belong to
# different processes (the access log's %P says which).  A sign-in that
# starts in one process ends in another; its session is used in four more;
# a front-channel logout (and, with shmcb, a logout) taken by yet another
# process ends it in all of them.  Cookie store (the module's own shared
# memory of ended sids) and socache shmcb.  Refresh single-flight across
# processes: t/72_refresh_flight.t.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Cookies;
use EntraTest;
use EntraSessions;
use EntraStores;
use EntraShapes;

my $CB = '/.auth/login/aad/callback';
mock_reset();

sub uniq { my %s; return grep { !$s{$_}++ } @_ }

for my $case (['cookie', undef], ['shmcb', 'socache shmcb']) {
    my ($what, $store) = @$case;
    my $S = eval {
        start_apache(name => "processes_$what", mpm => 'prefork', store => $store,
                     debian_modules => !$store, access_log => 1,
                     extra => "KeepAliveTimeout 30\nMaxKeepAliveRequests 0")
    };
    ok($S, "$what: a prefork server starts") or diag($@);
    next unless $S;

    # ---- the sign-in: started on one connection, finished on another
    my $jar = HTTP::Cookies->new;
    my $one = keepalive_ua(jar => $jar);
    my $two = keepalive_ua(jar => $jar);
    my $start = $one->get($S->url("/app/start/$what"), Accept => 'text/html');
    ok(is_login_redirect($start), "$what: a sign-in starts (process A)");
    my $held = $one->get($S->url("/app/held/$what"), Accept => 'text/html');   # A stays busy
    my $authz = new_ua()->get(abs_location($start));
    my $cb_url = abs_location($authz) // '';
    (my $cb_path = $cb_url) =~ s{^https?://[^/]+}{};
    my $cb = $two->get($cb_url);
    is($cb->code, 302, "$what: the callback is taken by another process (B)") or diag($cb->as_string);
    my $cookie = find_set_cookie($cb, 'entra_session') // '';
    ($cookie) = $cookie =~ /^(entra_session=[^;]*)/;
    ok($cookie, "$what: ... and makes the session");
    my $pa = served_by($S, "/app/start/$what");
    my $pb = served_by($S, $cb_path);
    ok($pa && $pb && $pa != $pb, "$what: start and callback in two processes ($pa, $pb)");
    is(served_by($S, "/app/held/$what"), $pa, "$what: ... the first connection stayed with A");

    # ---- the session in four more processes, each holding its connection
    my @c = map { keepalive_ua() } 1 .. 4;
    my @pids;
    for my $i (0 .. $#c) {
        my $r = $c[$i]->get($S->url("/app/use/$what/$i/1"), Cookie => $cookie);
        is($r->code, 200, "$what: the session works on connection $i") or diag($r->as_string);
        push @pids, served_by($S, "/app/use/$what/$i/1");
    }
    is(scalar(uniq(grep { defined } @pids, $pa, $pb)), 6,
       "$what: six processes in all (@pids; sign-in $pa, $pb)");
    undef $one;
    undef $two;
    for my $i (0 .. $#c) {
        $c[$i]->get($S->url("/app/use/$what/$i/2"), Cookie => $cookie);
        is(served_by($S, "/app/use/$what/$i/2"), $pids[$i], "$what: connection $i stays with its process");
    }
    my $r0 = $c[0]->get($S->url("/app/use/$what/sid"), Cookie => $cookie);
    my $sid = session_sid($r0);
    ok($sid, "$what: the session has a sid");

    # ---- a front-channel logout taken by a process none of them is
    my $fc = front_channel_logout($S->base, $sid);
    is($fc->code, 200, "$what: Entra's front-channel logout: 200");
    my $pf = served_by($S, '/.auth/logout');
    ok($pf && !grep({ $_ == $pf } @pids), "$what: ... served by another process ($pf)");
    for my $i (0 .. $#c) {
        my $r = $c[$i]->get($S->url("/app/use/$what/$i/3"), Cookie => $cookie, Accept => 'text/html');
        ok(is_login_redirect($r), "$what: the ended session is refused on connection $i")
            or diag($r->code);
        is(served_by($S, "/app/use/$what/$i/3"), $pids[$i], "$what: ... by the same process as before");
    }

    # ---- shmcb: a logout in one process ends the stored session in all
    if ($store) {
        my $ua = new_ua();
        is(sign_in_at($ua, $S->url("/app/again/$what"))->code, 200, "$what: signed in again");
        my $again = 'entra_session=' . session_cookie($ua);
        for my $i (0 .. $#c) {
            is($c[$i]->get($S->url("/app/again/$what/$i/1"), Cookie => $again)->code, 200,
               "$what: the new session works on connection $i");
        }
        my $out = new_ua(no_cookies => 1)->get($S->url('/.auth/logout'), Cookie => $again, SAME_SITE);
        is($out->code, 302, "$what: logout");
        for my $i (0 .. $#c) {
            my $r = $c[$i]->get($S->url("/app/again/$what/$i/2"), Cookie => $again, Accept => 'text/html');
            ok(is_login_redirect($r), "$what: the logged-out session is gone on connection $i");
            is(served_by($S, "/app/again/$what/$i/2"), $pids[$i], "$what: ... (process $pids[$i])");
        }
    }
    @c = ();
    $S->stop;
}

mock_reset();
done_testing();
