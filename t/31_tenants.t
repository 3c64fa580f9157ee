# EntraTenant common / organizations / consumers, validated the way Microsoft
# prescribes (tid a GUID; iss = the discovery issuer with {tenantid} = tid;
# a JWKS key's issuer property likewise; the tenant in iss is tid), and
# EntraAllowedTenants.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use URI;
use EntraTest;
use EntraSeeds;

my $base = mock_base();

# A sign-in that must be refused for a token reason: 401, no session, and an
# error line (with the module's id) that matches $cause.  Returns the final
# response.
sub refused_ok {
    my ($vh, $path, $cause, $what) = @_;
    my $mark = log_mark();
    my $ua = new_ua();
    my ($final, $s) = sign_in($ua, $vh, $path);
    my $cb = $s->{callback};
    is($cb && $cb->code, 401, "$what: callback answers 401")
        or diag($final->status_line . ' at ' . $final->request->uri);
    ok(!defined cookie_value($ua, 'entra_session'), "$what: not signed in");
    my @l = entra_problems($mark);
    ok(scalar(grep { /ENTRA[0-9]{5}:/ && $_ =~ $cause } @l), "$what: an error line says why")
        or diag(join "\n", @l ? @l : log_since($mark));
    return $final;
}

# ------------------------------------------------------------ common ------
mock_reset();
my $ua = new_ua();
my ($final, $s) = sign_in($ua, 'app_common', '/app/common');
is(URI->new($s->{authorize_url} // '')->path, '/common/oauth2/v2.0/authorize',
   'common: authorize at /common/oauth2/v2.0/authorize');
is($final->code, 200, 'common: a work account of the home tenant signs in');
my $h = claims_of($final);
is(claim($h, 'tid'), TENANT, '... tid is the user\'s tenant');
is(claim($h, 'iss'), "$base/" . TENANT . '/v2.0', '... iss names that tenant (template filled in)');
is(remote_user($h), USER->{preferred_username}, '... REMOTE_USER');

# a work account of any other tenant (multi-tenant app, no allow-list)
mock_reset();
mock_config({ user => { tid => OTHER_TID } });
$final = sign_in(new_ua(), 'app_common', '/app/other-tenant');
is($final->code, 200, 'common: a work account of another tenant signs in');
$h = claims_of($final);
is(claim($h, 'tid'), OTHER_TID, '... with its own tid');
is(claim($h, 'iss'), "$base/" . OTHER_TID . '/v2.0', '... and its own issuer');

# a personal Microsoft account through common (signed by the MSA key)
mock_reset();
mock_config({ user => { tid => CONSUMERS_TID } });
$final = sign_in(new_ua(), 'app_common', '/app/personal');
is($final->code, 200, 'common: a personal Microsoft account signs in');
is(claim(claims_of($final), 'tid'), CONSUMERS_TID, '... tid = the Microsoft-account tenant');

# tid is not a GUID: iss matches the template filled with it, tid must still be a GUID
mock_reset();
mock_config({ user => { tid => 'contoso' } });
refused_ok('app_common', '/app/tid-not-guid', qr/\btid\b.*GUID|GUID.*\btid\b|tenant id/i,
           'common: tid "contoso" (not a GUID), iss made to match');

mock_reset();
mock_config({ user => { tid => undef } });
refused_ok('app_common', '/app/no-tid', qr/\btid\b|tenant/i, 'common: no tid at all');

# the tenant in iss is not tid (tid moved, iss kept)
mock_reset();
mock_config({ bad_token => 'wrong_tid' });
refused_ok('app_common', '/app/wrong-tid', qr/\btid\b|tenant|\biss/i, 'common: tid is not the issuer\'s tenant');

# iss names another tenant than tid
mock_reset();
mock_config({ bad_token => 'wrong_iss' });
refused_ok('app_common', '/app/wrong-iss', qr/\biss|issuer/i, 'common: iss names another tenant');

# iss is the literal template: never a real issuer
mock_reset();
mock_config({ user => { iss => "$base/{tenantid}/v2.0" } });
refused_ok('app_common', '/app/iss-template', qr/\biss|issuer/i, 'common: iss is the unfilled {tenantid} template');

# iss of another authority, with the right tenant
mock_reset();
mock_config({ user => { iss => 'https://login.microsoftonline.com/' . TENANT . '/v2.0' } });
refused_ok('app_common', '/app/iss-foreign', qr/\biss|issuer/i, 'common: iss of another authority');

# ------------------------------------------------- JWKS key `issuer` ------
# Each on a vhost whose keys are fetched for the first time under the switch.
mock_reset();
mock_config({ key_issuer => 'https://login.microsoftonline.com/{tenantid}/v2.0' });
refused_ok('app_keyiss_foreign', '/app/key-issuer', qr/key\W{0,3}s? issuer|signing key/i,
           'JWKS key issuer of another authority');

mock_reset();
mock_config({ key_issuer => "$base/" . OTHER_TID . '/v2.0' });
refused_ok('app_keyiss_tenant', '/app/key-issuer-tenant', qr/key\W{0,3}s? issuer|signing key/i,
           'JWKS key issuer pinned to another tenant');

mock_reset();
mock_config({ key_issuer => JSON::PP::false() });
$final = sign_in(new_ua(), 'app_keyiss_none', '/app/no-key-issuer');
is($final->code, 200, 'JWKS keys without an issuer property: the token\'s own checks suffice');
is(claim(claims_of($final), 'tid'), TENANT, '... signed in');
mock_reset();
# the same vhost, keys cached without issuer: a bad iss is still refused
mock_config({ bad_token => 'wrong_iss' });
refused_ok('app_keyiss_none', '/app/no-key-issuer-bad-iss', qr/\biss|issuer/i,
           'keys without issuer: a wrong iss is still refused');

# --------------------------------------------------------- consumers ------
mock_reset();
$ua = new_ua();
($final, $s) = sign_in($ua, 'app_consumers', '/app/msa');
is(URI->new($s->{authorize_url} // '')->path, '/consumers/oauth2/v2.0/authorize',
   'consumers: authorize at /consumers/oauth2/v2.0/authorize');
is($final->code, 200, 'consumers: a personal Microsoft account signs in');
$h = claims_of($final);
is(claim($h, 'tid'), CONSUMERS_TID, '... tid 9188040d-6c67-4c5b-b112-36a304b66dad');
is(claim($h, 'iss'), "$base/" . CONSUMERS_TID . '/v2.0', '... iss of the Microsoft-account tenant');
ok(echo($final) && !has_claim($h, 'roles') && !has_claim($h, 'groups'), '... no roles or groups (personal account)');

# a work account's token where only personal accounts belong
mock_reset();
mock_config({ user => { tid => TENANT } });
refused_ok('app_consumers_work', '/app/work-on-consumers', qr/\biss|issuer|\bkid\b|key|signature|tenant|\btid\b/i,
           'consumers: a work account is refused');

# ------------------------------------------------ EntraAllowedTenants -----
mock_reset();
$final = sign_in(new_ua(), 'app_orgs_allowed', '/app/allowed');
is($final->code, 200, 'allow-list: the home tenant gets in');

mock_reset();
mock_config({ user => { tid => PARTNER_TID } });
$final = sign_in(new_ua(), 'app_orgs_allowed', '/app/partner');
is($final->code, 200, 'allow-list: the second listed tenant gets in');
is(claim(claims_of($final), 'tid'), PARTNER_TID, '... as itself');

mock_reset();
mock_config({ user => { tid => OTHER_TID } });
my $mark = log_mark();
$ua = new_ua();
($final, $s) = sign_in($ua, 'app_orgs_allowed', '/app/not-allowed');
my $cb = $s->{callback};
is($cb && $cb->code, 403, 'allow-list: another tenant gets 403');
like($cb ? $cb->decoded_content : '', qr/organi[sz]ation[^<]*not allowed|not allowed[^<]*organi[sz]ation/i,
     '... with a page saying the organization is not allowed');
ok($cb && !find_set_cookie($cb, 'entra_session'), '... and no session');
ok(!defined location($cb), '... and no redirect');
ok(scalar(grep { /\Q${\ OTHER_TID}\E/ } entra_problems($mark)), '... the log names the refused tenant')
    or diag(join "\n", log_since($mark));
# and coming back does not loop: a new sign-in, refused again
my $again = $ua->get(url('app_orgs_allowed', '/app/not-allowed'));
is($again->code, 302, '... the protected URL again: a fresh sign-in (not a session)');

# a personal account on an organizations allow-list
mock_reset();
mock_config({ user => { tid => CONSUMERS_TID } });
($final, $s) = sign_in(new_ua(), 'app_orgs_allowed', '/app/personal');
is($s->{callback} && $s->{callback}->code, 403, 'allow-list: a personal account is not on it: 403');

mock_reset();
# ------------------------------------------------------- start-up checks --
configtest_passes('EntraTenant organizations + EntraAllowedTenants',
                  ['EntraTenant organizations', 'EntraAllowedTenants ' . TENANT . ' ' . PARTNER_TID], no_tenant => 1);
for my $t (qw(common organizations consumers contoso.com), TENANT) {
    my ($rc, $out) = configtest(configtest_vhost(["EntraTenant $t"], no_tenant => 1));
    is($rc, 0, "configtest: EntraTenant $t accepted") or diag($out);
}
configtest_fails('EntraTenant with a slash', ['EntraTenant contoso/x'], qr/EntraTenant/, no_tenant => 1);
configtest_fails('EntraAllowedTenants with a domain, not a GUID', ['EntraAllowedTenants contoso.com'], qr/EntraAllowedTenants/);
configtest_fails('EntraAllowedTenants with no value', ['EntraAllowedTenants'], qr/EntraAllowedTenants/);

done_testing();
