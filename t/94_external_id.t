# Entra External ID (customer tenants): the issuer comes from discovery and
# has the tenant GUID as host, https://<tid>.ciamlogin.com/<tid>/v2.0; the
# JWKS keys' issuer template names {tenantid} twice (host and path), both
# filled. A token of another issuer is refused.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;
use EntraSeeds;

my $tid = TENANT;
my $ciam_iss = "https://$tid.ciamlogin.com/$tid/v2.0";

mock_reset();
mock_config({ tenant_kind => 'ciam' });
my $disco = EntraTest::control_ua()->get(mock_url('/customers.contoso.test/v2.0/.well-known/openid-configuration'));
my $doc = JSON::PP->new->decode($disco->content);
is($doc->{issuer}, $ciam_iss, 'the mock: discovery names the External ID issuer');
my $keys = JSON::PP->new->decode(EntraTest::control_ua()->get(mock_url('/customers.contoso.test/discovery/v2.0/keys'))->content);
is($keys->{keys}[0]{issuer}, 'https://{tenantid}.ciamlogin.com/{tenantid}/v2.0',
   'the mock: the keys name the tenant twice by template');

my $mark = log_mark();
my $final = sign_in(new_ua(), 'ciam_app', '/app/ciam');
is($final->code, 200, 'External ID: signed in') or diag(join "\n", entra_lines($mark));
is(remote_user(claims_of($final)), USER->{preferred_username}, '... as the user');
is(mock_stats()->{last}{token}{grant_type} // 'authorization_code', 'authorization_code', '... with a code');
is(scalar(entra_problems($mark)), 0, '... and nothing in the log');

# a token from another issuer (a workforce-shaped one, another tenant's)
for my $bad (qw(wrong_iss)) {
    mock_config({ bad_token => $bad });
    $mark = log_mark();
    my (undef, $s) = sign_in(new_ua(), 'ciam_app', "/app/$bad");
    is($s->{callback} && $s->{callback}->code, 401, "$bad: refused");
    ok(scalar(grep { /ENTRA00208:.*issuer/ } entra_problems($mark)), "$bad: ENTRA00208 names the issuer");
}
# the workforce issuer where discovery said External ID's
mock_reset();
$mark = log_mark();
my (undef, $s) = sign_in(new_ua(), 'ciam_app', '/app/workforce');
is($s->{callback} && $s->{callback}->code, 401, 'a workforce-issued token: refused');
ok(scalar(grep { /ENTRA00208:.*issuer.*ciamlogin/ } entra_problems($mark)), '... the log names the expected issuer');

done_testing();
