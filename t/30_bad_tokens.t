# Every kind of bad ID token: 401, no session, and a log line that says why.
# (unknown_kid is in t/85_unknown_kid.t: it spends a JWKS refetch.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;

my $vh = 'entra_main';
my %cause = (
    wrong_aud     => qr/\baud/i,
    wrong_iss     => qr/\biss/i,
    wrong_nonce   => qr/nonce/i,
    no_nonce      => qr/nonce/i,
    expired       => qr/\bexp|expired/i,
    not_yet_valid => qr/\bnbf|\biat|not yet|future/i,
    bad_signature => qr/signature|verif/i,
    alg_none      => qr/\balg|none|unsigned/i,
    hs256_pubkey  => qr/\balg|HS256/i,
    wrong_tid     => qr/\btid|tenant/i,
);

for my $kind (sort keys %cause) {
    mock_reset();
    mock_config({ bad_token => $kind });
    my $mark = log_mark();
    my $ua = new_ua();
    my ($final, $s) = sign_in($ua, $vh, "/app/bad/$kind");
    my $cb = $s->{callback};
    is($cb && $cb->code, 401, "$kind: callback answers 401");
    ok($cb && !find_set_cookie($cb, 'entra_session'), "$kind: no session cookie");
    ok(!defined cookie_value($ua, 'entra_session'), "$kind: browser not signed in");
    my $body = $cb ? $cb->decoded_content : '';
    unlike($body, qr/eyJ[A-Za-z0-9_-]{8,}/, "$kind: the page shows no token");
    my @l = entra_problems($mark);
    ok(scalar @l, "$kind: a warn/error log line") or diag(join "\n", log_since($mark));
    ok(scalar(grep { /ENTRA[0-9]{5}:/ } @l), "$kind: ... with an ENTRAnnnnn id");
    ok(scalar(grep { $_ =~ $cause{$kind} } @l), "$kind: ... naming the cause") or diag(join "\n", @l);
}

# healthy again: the same vhost signs in fine (nothing cached from the bad ones)
mock_reset();
is(sign_in(new_ua(), $vh, '/app/after-bad')->code, 200, 'good tokens work again');

done_testing();
