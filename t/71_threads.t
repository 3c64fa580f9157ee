# Many requests at once, as mpm_event serves them (t/conf/threads.conf.in):
# good and forged bearer tokens checked from many connections of one process
# (the signing keys are shared by its threads), and an Entra that cannot be
# reached from the start: one fetch at a time, its failure remembered and
# answered from, no request queued behind another's timeout.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use EntraTest;
use EntraSessions;

use constant ENTRA_FETCH_BACKOFF => 5;    # src/provider.h

mock_reset();

# ---- good and forged tokens from 16 connections at once, 20 each
{
    my $good = api_token();
    my $forged = api_token(bad => 'bad_signature');
    my $other_kid = api_token(bad => 'unknown_kid');
    my $mark = log_mark();
    my @res = in_parallel(16, sub {
        my $i = shift;
        my $ua = new_ua(no_cookies => 1);
        my ($ok, $refused, $wrong) = (0, 0, 0);
        for my $n (1 .. 20) {
            my $token = $n % 3 == 0 ? $forged : $n % 3 == 1 ? $good : $other_kid;
            my $r = $ua->get(url('t_bearer', "/api/c$i/$n"), Authorization => "Bearer $token");
            if ($token eq $good) { $r->code == 200 ? $ok++ : $wrong++ }
            else                 { $r->code == 401 ? $refused++ : $wrong++ }
        }
        return "$ok $refused $wrong";
    });
    my ($ok, $refused, $wrong) = (0, 0, 0);
    for (@res) {
        my @n = split ' ';
        $ok += $n[0] // 0; $refused += $n[1] // 0; $wrong += $n[2] // 1;
    }
    is($ok, 16 * 7, '16 connections at once: every good bearer token accepted');
    is($refused, 16 * 13, '... every forged or unknown-kid one refused with 401');
    is($wrong, 0, '... and no other answer');
    my @bad = grep { /double free|AddressSanitizer|ThreadSanitizer|exit signal|Segmentation/ }
              log_since($mark);
    is(scalar @bad, 0, '... no crash in the log') or diag(join "\n", @bad);
}

# ---- a token seen before is not checked again (until it expires); a
# refused one is never remembered
{
    my $token = api_token();
    my $ua = new_ua(no_cookies => 1);
    my $mark = log_mark();
    is($ua->get(url('t_bearer', '/api/once'), Authorization => "Bearer $token")->code, 200,
       'a bearer token: accepted');
    is($ua->get(url('t_bearer', '/api/twice'), Authorization => "Bearer $token")->code, 200,
       '... and again');
    my @lines = log_since($mark);
    is(scalar(grep { /validated before: no signature check/ } @lines), 1,
       '... the second time from the cache of validated tokens');
    my $forged = api_token(bad => 'bad_signature');
    $mark = log_mark();
    is($ua->get(url('t_bearer', '/api/f1'), Authorization => "Bearer $forged")->code, 401, 'a forged token: 401');
    is($ua->get(url('t_bearer', '/api/f2'), Authorization => "Bearer $forged")->code, 401, '... twice');
    is(scalar(grep { /ENTRA00703:/ } log_since($mark)), 2, '... checked (and refused) both times');
}

# ---- keys roll over while 8 calls with the new key come in at once: the
# first refetches, the others wait for that refetch, not refuse the token
{
    is(new_ua(no_cookies => 1)->get(url('t_rollover', '/api/warm'), Authorization => 'Bearer ' . api_token())->code,
       200, 'rollover: the cache holds the old key');
    rotate_keys();
    mock_config({ slow => { jwks => 1 } });
    my $token = api_token();
    my $before = mock_stats()->{requests}{jwks} // 0;
    my @res = in_parallel(8, sub {
        return new_ua(no_cookies => 1, timeout => 30)
            ->get(url('t_rollover', '/api/new-key'), Authorization => "Bearer $token")->code;
    });
    is(scalar(grep { $_ == 200 } @res), 8, '8 calls at once with a just-rolled key: all accepted')
        or diag("@res");
    is((mock_stats()->{requests}{jwks} // 0) - $before, 1, '... after one JWKS refetch');
    mock_config({ slow => undef });
    rotate_keys(restore => 1);
}

# ---- Entra unreachable from the start: 16 bearer calls at once
{
    mock_config({ slow => { discovery => 20 } });
    my $token = api_token();
    my $before = mock_stats()->{requests}{discovery} // 0;
    my $t0 = time;
    my @res = in_parallel(16, sub {
        my $r = new_ua(no_cookies => 1, timeout => 30)
            ->get(url('t_outage', '/api/x'), Authorization => "Bearer $token");
        return $r->code;
    });
    my $took = time - $t0;
    is(scalar(grep { $_ == 502 } @res), 16, '16 bearer calls while discovery hangs: all refused (502)')
        or diag("@res");
    cmp_ok($took, '<', 8, sprintf('... all within 8 s with EntraHTTPTimeout 3 (%.1f s)', $took));
    is((mock_stats()->{requests}{discovery} // 0) - $before, 1, '... after one discovery request');

    $t0 = time;
    my $r = new_ua(no_cookies => 1)->get(url('t_outage', '/api/y'), Authorization => "Bearer $token");
    is($r->code, 502, 'a call within the back-off: refused ...');
    cmp_ok(time - $t0, '<', 1, '... at once, from the remembered failure');
    is((mock_stats()->{requests}{discovery} // 0) - $before, 1, '... with no new discovery request');

    mock_config({ slow => undef });
    advance_clock(ENTRA_FETCH_BACKOFF + 1);    # on the module's test clock
    $r = new_ua(no_cookies => 1)->get(url('t_outage', '/api/z'), Authorization => "Bearer $token");
    is($r->code, 200, 'Entra back, the back-off over: the token is checked again, and passes');
}
mock_reset();

done_testing();
