# Sovereign clouds through EntraAuthority (the mock is the authority; its
# `cloud` switch makes its documents those of US Government or China), and
# Microsoft Graph at the host discovery names (msgraph_host) or at
# EntraGraphHost, never a hard-coded one.
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
my $mock_hostport = URI->new($base)->host_port;
sub graph_calls { my $r = mock_stats()->{requests}; return $r->{graph} // 0 }

# ---------------------------------------------------- US Government (v2) --
mock_reset();
mock_config({ cloud => 'usgov' });
is(mock_get('/' . TENANT . '/v2.0/.well-known/openid-configuration')->code, 200, 'mock answers discovery');
my $disco = eval { JSON::PP->new->decode(mock_get('/contoso.test/v2.0/.well-known/openid-configuration')->content) } || {};
is($disco->{cloud_instance_name}, 'microsoftonline.us', 'usgov: discovery says cloud_instance_name microsoftonline.us');
is($disco->{msgraph_host}, $mock_hostport, '... msgraph_host is the mock (not graph.microsoft.com)');

my $g0 = graph_calls();
my $ua = new_ua();
my ($final, $s) = sign_in($ua, 'app_usgov', '/app/usgov');
like($s->{authorize_url} // '', qr{^\Q$base\E/Contoso\.Test/oauth2/v2\.0/authorize\?},
     'usgov: the authorize endpoint comes from the authority\'s discovery');
is($final->code, 200, 'usgov: signed in');
my $h = claims_of($final);
is(claim($h, 'iss'), "$base/" . TENANT . '/v2.0', '... iss as that cloud\'s discovery says');
is(graph_calls() - $g0, 1, '... EntraUserInfo graph called Graph once, at discovery\'s msgraph_host');
is(mock_stats()->{last}{graph}{path}, '/v1.0/me', '... GET /v1.0/me');
is(claim($h, 'userPrincipalName'), USER->{preferred_username}, '... Graph profile merged: userPrincipalName');
is(claim($h, 'id'), USER->{oid}, '... Graph profile merged: id');

# groups overage in that cloud: the token points at graph.windows.net (the
# retired Azure AD Graph); the groups come from the cloud's Microsoft Graph
mock_reset();
# (groups_overage forces the overage claim for 22 groups: the session stays small)
mock_config({ cloud => 'usgov', groups_overage => JSON::PP::true(), user => { groups_count => 20 } });
$ua = new_ua();
$final = sign_in($ua, 'app_usgov', '/app/group15/x');
is($final->code, 200, 'usgov overage: entra-group on a group only Graph knows: 200');
is(mock_stats()->{requests}{graph_groups}, 1, '... getMemberObjects at the mock\'s Graph');
my @g = split /,/, claim(claims_of($final), 'groups') // '';
is(scalar @g, 22, '... all 22 groups in X-Entra-Claim-groups');

# ---------------------------------------------------------- China (v1) ----
mock_reset();
mock_config({ cloud => 'china', groups_overage => JSON::PP::true(), user => { groups_count => 20 } });
$ua = new_ua();
($final, $s) = sign_in($ua, 'app_china_v1', '/app/group15/china');
like($s->{authorize_url} // '', qr{/oauth2/authorize\?}, 'china v1: the v1 authorize endpoint');
is($final->code, 200, 'china v1: signed in, entra-group via Graph (overage) granted');
$h = claims_of($final);
is(claim($h, 'iss'), 'https://sts.chinacloudapi.cn/' . TENANT . '/', '... iss https://sts.chinacloudapi.cn/{tid}/ accepted');
is(claim($h, 'ver'), '1.0', '... a v1 token');
is(remote_user($h), USER->{preferred_username}, '... REMOTE_USER = upn');
is(claim($h, 'surname'), 'Vance', '... Graph /v1.0/me merged from msgraph_host (surname)');
is(scalar(split /,/, claim($h, 'groups') // ''), 22, '... 22 groups resolved at msgraph_host, not graph.chinacloudapi.cn');

# the same vhost now knows the China issuer: a token from the global sts is refused
mock_config({ cloud => 'global', groups_overage => JSON::PP::false(), user => { groups_count => undef } });
my $mark = log_mark();
(undef, $s) = sign_in(new_ua(), 'app_china_v1', '/app/global-token');
is($s->{callback} && $s->{callback}->code, 401, 'china vhost: a token from sts.windows.net is refused');
ok(scalar(grep { /\biss|issuer/i } entra_problems($mark)), '... the log says issuer');

# ------------------------------------------- China: bearer v1 API tokens --
# Access tokens for the app's own API with ver 1.0 come from the cloud's
# sts (sts.chinacloudapi.cn in China), like the v1 ID tokens above.
mock_reset();
mock_config({ cloud => 'china' });
my $anon = new_ua(no_cookies => 1);
my $r0 = $anon->get(url('app_china_api', '/api/ping'), Authorization => 'Bearer x.y.z');
is($r0->code, 401, 'china API: a junk bearer token: 401 (discovery of that cloud read)');
my $at = api_token();
my ($hd, $cl) = jwt_decode($at->{access_token});
is($cl->{iss}, 'https://sts.chinacloudapi.cn/' . TENANT . '/', 'the mock issued a China v1 API token');
my $r = $anon->get(url('app_china_api', '/api/ping'), Authorization => "Bearer $at->{access_token}");
is($r->code, 200, 'china API: a valid v1 access token of that cloud is accepted')
    or diag($r->status_line . ' ' . ($r->header('WWW-Authenticate') // ''));
mock_reset();

# -------------------------------------------------------- EntraGraphHost --
$g0 = graph_calls();
$final = sign_in(new_ua(), 'app_graphhost', '/app/graphhost');
is($final->code, 200, 'EntraGraphHost http://localhost:<mock>/: signed in');
is(graph_calls() - $g0, 1, '... Graph /v1.0/me called there');
is(claim(claims_of($final), 'officeLocation'), '18/2111', '... profile merged (officeLocation)');

# a Graph host where nothing listens: the setting is what is used
$mark = log_mark();
$g0 = graph_calls();
(undef, $s) = sign_in(new_ua(), 'app_graphhost_down', '/app/graphhost-down');
is($s->{callback} && $s->{callback}->code, 502, 'EntraGraphHost unreachable: 502');
is(graph_calls() - $g0, 0, '... the discovery msgraph_host (the mock) was not called instead');
ok(scalar(grep { /127\.0\.0\.1:1\b/ && /graph|\/v1\.0\/me/i } entra_problems($mark)),
   '... the log names the configured Graph host') or diag(join "\n", entra_problems($mark));

mock_reset();
# ------------------------------------------------------- start-up checks --
configtest_passes('US Government authority and Graph host',
                  ['EntraAuthority https://login.microsoftonline.us', 'EntraGraphHost graph.microsoft.us']);
configtest_passes('China authority', ['EntraAuthority https://login.partner.microsoftonline.cn/']);
configtest_passes('DoD Graph host as a URL', ['EntraGraphHost https://dod-graph.microsoft.us']);
configtest_fails('EntraAuthority not http(s)', ['EntraAuthority ftp://login.microsoftonline.us'], qr/EntraAuthority/);
configtest_fails('EntraAuthority with a query', ['EntraAuthority https://login.microsoftonline.us/?x=1'], qr/EntraAuthority/);
configtest_fails('EntraGraphHost not a host', ['EntraGraphHost graph.microsoft.us/v1.0?x'], qr/EntraGraphHost/);
configtest_fails('EntraUserInfo ldap', ['EntraUserInfo ldap'], qr/EntraUserInfo/);

done_testing();
