# The IdP unreachable, slow, failing, malformed or hanging up: at discovery
# (first sign-in) and at the token endpoint (callback).  Each gives a short
# 502 page and one log line naming the cause.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use JSON::PP ();
use EntraTest;

my %cause = (
    unreachable => qr/connect|refused|unreachable/i,
    fail        => qr/\b503\b|temporarily_unavailable|AADSTS90033/,   # the status, or Entra's error in the body
    malformed   => qr/json|pars|malformed|invalid/i,
    slow        => qr/time(?:d)?\s*-?out/i,
    drop        => qr/empty|closed|reset|recv|receiv|connection|reply|EOF/i,
);

sub check_502 {
    my ($what, $kind, $r, $mark, $elapsed) = @_;
    is($r->code, 502, "$what: 502") or diag($r->status_line . "\n" . $r->decoded_content);
    ok(length($r->content) < 4096, "$what: short page (" . length($r->content) . " bytes)");
    unlike($r->decoded_content, qr/ENTRA[0-9]{5}|curl|AH[0-9]{5}/, "$what: page does not dump internals");
    ok(!find_set_cookie($r, 'entra_session'), "$what: no session cookie");
    ok($elapsed < 6, sprintf("%s: answered in %.1f s", $what, $elapsed));
    my @l = entra_problems($mark);
    is(scalar @l, 1, "$what: exactly one warn/error log line") or diag(join "\n", @l);
    ok(scalar(grep { $_ =~ $cause{$kind} } @l), "$what: the log line names the cause") or diag(join "\n", @l);
    ok(scalar(grep { /\[auth_entra:error\].*\bENTRA0020[12]:/ } @l), "$what: ... at error, ENTRA00201/ENTRA00202")
        or diag(join "\n", @l);
}

# ---------------------------------------------------------------- discovery
# Every entra_disco_* vhost has a discovery URL of its own that never
# answered successfully, so nothing cached can hide the failure.
my @disco = (
    [unreachable => 'entra_unreachable',     undef],
    [fail        => 'entra_disco_5xx',       { fail      => { discovery => 503 } }],
    [malformed   => 'entra_disco_malformed', { malformed => { discovery => JSON::PP::true() } }],
    [slow        => 'entra_disco_slow',      { slow      => { discovery => 5 } }],
    [drop        => 'entra_disco_drop',      { drop      => { discovery => JSON::PP::true() } }],
);
for my $d (@disco) {
    my ($kind, $vhost, $switch) = @$d;
    mock_reset();
    mock_config($switch) if $switch;
    my $mark = log_mark();
    my $t0 = time;
    my $r = new_ua()->get(url($vhost, '/app/'));
    check_502("discovery $kind ($vhost)", $kind, $r, $mark, time - $t0);
    if ($kind ne 'unreachable') {
        is(mock_stats()->{requests}{discovery}, 1, "discovery $kind: the module did ask the IdP");
    }
}
# Entra comes back: sign-ins start working again without a restart (a failed
# discovery may be remembered for a few seconds, not for good)
{
    mock_reset();
    my $r;
    for (1 .. 15) {
        $r = new_ua()->get(url('entra_disco_5xx', '/app/'));
        last if $r->code == 302;
        advance_clock(1);    # on the module's test clock
    }
    ok(is_login_redirect($r), 'IdP recovered: the failed vhost redirects to Entra again (within 15 s)')
        or diag($r->status_line);
}

# ------------------------------------------------------------------- token
# Discovery is healthy and cached; the token endpoint misbehaves at the callback.
my @token = (
    [fail      => 'entra_main', { fail      => { token => 503 } }],
    [malformed => 'entra_main', { malformed => { token => JSON::PP::true() } }],
    [drop      => 'entra_main', { drop      => { token => JSON::PP::true() } }],
    [slow      => 'entra_slow', { slow      => { token => 5 } }],   # EntraHTTPTimeout 2
);
for my $t (@token) {
    my ($kind, $vhost, $switch) = @$t;
    mock_reset();
    my $ua = new_ua();
    my $start = start_login($ua, $vhost, '/app/token');
    ok(is_login_redirect($start), "token $kind ($vhost): login starts normally");
    my $authz = authorize_at_mock($ua, $start);
    mock_config($switch);
    my $mark = log_mark();
    my $t0 = time;
    my $r = finish_callback($ua, $authz);
    check_502("token $kind ($vhost)", $kind, $r, $mark, time - $t0);
}
mock_reset();

# and after all that, a sign-in works again
is(sign_in(new_ua(), 'entra_main', '/app/recovered')->code, 200, 'IdP healthy again: sign-in works');

done_testing();
