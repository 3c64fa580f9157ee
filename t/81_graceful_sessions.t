# A graceful restart with live sessions (mpm_event, two processes): sessions
# signed in before it work after it, a sid that Entra's front-channel logout
# ended before it stays ended after it, and logouts keep working in the new
# generation; with the cookie store (the module's own shared memory of ended
# sids) and with socache shmcb (the sessions themselves in shared memory).
# Load across a graceful restart: t/75_graceful.t.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;
use EntraSessions;
use EntraStores;

mock_reset();

sub refused { my $r = shift; return is_login_redirect($r) }

for my $case (['cookie', undef], ['shmcb', 'socache shmcb']) {
    my ($what, $store) = @$case;
    my $S = eval { start_apache(name => "graceful_sessions_$what", store => $store, servers => 2) };
    ok($S, "$what: a server of two event processes starts") or diag($@);
    next unless $S;

    my (%cookie, %sid);
    for my $who (qw(live ended later)) {
        my $ua = new_ua();
        my $r = sign_in_at($ua, $S->url("/app/$who"));
        is($r->code, 200, "$what: '$who' signed in");
        $cookie{$who} = 'entra_session=' . session_cookie($ua);
        $sid{$who} = session_sid($r);
    }
    ok($sid{ended} && $sid{later} && $sid{ended} ne $sid{later}, "$what: the sessions have sids of their own");
    is(front_channel_logout($S->base, $sid{ended})->code, 200, "$what: Entra ends one of them");
    my $get = sub {
        my ($who, $path) = @_;
        return new_ua(no_cookies => 1)->get($S->url($path), Cookie => $cookie{$who}, Accept => 'text/html');
    };
    ok(refused($get->('ended', '/app/ended/before')), "$what: ... it is refused");

    ok($S->graceful, "$what: a graceful restart");
    # several requests, new connections each: both processes of the new generation
    for my $i (1 .. 6) {
        is($get->('live', "/app/live/after/$i")->code, 200, "$what: a live session works after it ($i)");
        ok(refused($get->('ended', "/app/ended/after/$i")), "$what: the ended sid stays ended ($i)");
    }
    is(front_channel_logout($S->base, $sid{later})->code, 200,
       "$what: a front-channel logout in the new generation");
    ok(refused($get->('later', '/app/later/after')), "$what: ... ends that session");
    is($get->('live', '/app/live/still')->code, 200, "$what: ... and no other");

    ok($S->graceful, "$what: a second graceful restart");
    is($get->('live', '/app/live/after2')->code, 200, "$what: the live session still works");
    ok(refused($get->('ended', '/app/ended/after2')), "$what: both ended sessions stay ended");
    ok(refused($get->('later', '/app/later/after2')), "$what: ...");
    if ($store) {
        my $out = new_ua(no_cookies => 1)->get($S->url('/.auth/logout'), Cookie => $cookie{live}, SAME_SITE);
        is($out->code, 302, "$what: a logout after the restarts");
        ok(refused($get->('live', '/app/live/out')), "$what: ... removes the stored session");
    }
    $S->stop;
}

mock_reset();
done_testing();
