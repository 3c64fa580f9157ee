# Who may enter: Require entra-role / entra-group / entra-claim /
# entra-tenant / entra-scope, alone and in <RequireAll>/<RequireAny>.
# A signed-in user who is denied gets 403 with a page naming what was
# missing, and no login loop (asking again: 403 again, no new sign-in).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;
use EntraSeeds;

my $vh = 'app_authz';
my $A001 = '2f6a4c1e-0000-4000-8000-00000000a001';
my $A002 = '2f6a4c1e-0000-4000-8000-00000000a002';
my $NONE = '2f6a4c1e-0000-4000-8000-0000000dead0';

mock_reset();
mock_config({ user => { department => 'Research,Admin' } });
my $ua = new_ua();
my $first = sign_in($ua, $vh, '/app/role');
is($first->code, 200, 'signed in through a Require entra-role location');
is(remote_user(claims_of($first)), USER->{preferred_username}, '... as the user');
my $n_auth = mock_stats()->{requests}{authorize};

my @granted = (
    ['/app/role',        'entra-role Admin'],
    ['/app/group',       'entra-group (second group)'],
    ['/app/claim',       'entra-claim "name:Adele Vance"'],
    ['/app/claim-array', 'entra-claim roles:Task.Read (one element of an array)'],
    ['/app/tenant',      'entra-tenant <home tenant>'],
    ['/app/all',         '<RequireAll> role + group + tenant'],
    ['/app/any',         '<RequireAny> missing role, present group'],
    ['/app/nested',      '<RequireAll> tenant, <RequireAny> missing group / present role'],
);
for my $g (@granted) {
    my ($path, $what) = @$g;
    my $r = $ua->get(url($vh, "$path/x"));
    is($r->code, 200, "granted: $what");
    is(scalar(echo_header(echo($r) || {}, 'X-Test-Remote-User')), USER->{preferred_username}, "... $what: the backend has the user");
}

my @denied = (
    ['/app/role-missing',  'entra-role Task.Write Billing.Admin', ['Task.Write', 'Billing.Admin']],
    ['/app/role-prefix',   'entra-role Task (a prefix of Task.Read is not the role)', [qr/\bTask\b/]],
    ['/app/group-missing', 'entra-group <not a member>', [$NONE]],
    ['/app/claim-missing', 'entra-claim department:Sales', ['department:Sales']],
    ['/app/claim-string',  'entra-claim department:Admin on the string "Research,Admin"', ['department:Admin']],
    ['/app/tenant-other',  'entra-tenant <another tenant>', [OTHER_TID]],
    ['/app/scope',         'entra-scope on a browser session (no scp)', ['User.Read']],
    ['/app/all-fail',      '<RequireAll> role present, group missing', [$NONE]],
    ['/app/any-fail',      '<RequireAny> neither', ['Nope', 'department:Sales']],
);
for my $d (@denied) {
    my ($path, $what, $needles) = @$d;
    my $mark = log_mark();
    my $r = $ua->get(url($vh, "$path/x"));
    denied_page_ok($r, $needles, "denied: $what");
    ok(!echo($r), "... $what: the backend was not reached");
    like($r->header('Content-Type') // '', qr{text/html}, "... $what: an HTML page");
    my $again = $ua->get(url($vh, "$path/x"));
    is($again->code, 403, "... $what: asking again: 403 again (no loop)");
    ok(!find_set_cookie($again, qr/^entra_session_state_/), "... $what: still no new sign-in");
    ok(scalar(grep { /ENTRA[0-9]{5}:/ } entra_lines($mark)), "... $what: a log line");
}
is(mock_stats()->{requests}{authorize}, $n_auth, 'no denial sent the browser back to Entra');
ok(defined cookie_value($ua, 'entra_session'), 'the session survives the denials');

# Require not: the user is in the excluded group
{
    my $r = $ua->get(url($vh, '/app/not/x'));
    is($r->code, 403, 'Require not entra-group <a group of the user>: 403 (a signed-in user, not a 401)');
    ok(!defined location($r), '... no redirect');
    ok(!find_set_cookie($r, qr/^entra_session_state_/), '... no new sign-in');
}

# a user with fewer roles/groups: what was granted is now denied
mock_reset();
mock_config({ user => { roles => ['Task.Read'], groups => [$A001] } });
my $ub = new_ua();
is(sign_in($ub, $vh, '/app/x')->code, 200, 'second user (no Admin, no second group): signed in');
denied_page_ok($ub->get(url($vh, '/app/role/x')), 'Admin', 'second user: entra-role Admin');
denied_page_ok($ub->get(url($vh, '/app/group/x')), $A002, 'second user: entra-group <second group>');
denied_page_ok($ub->get(url($vh, '/app/nested/x')), [$NONE, 'Admin'], 'second user: nested RequireAll/RequireAny');
is($ub->get(url($vh, '/app/not/x'))->code, 403, 'second user: Require not ... still needs Admin: 403');
{
    mock_reset();
    mock_config({ user => { groups => [$A001] } });
    my $uc = new_ua();
    sign_in($uc, $vh, '/app/x');
    is($uc->get(url($vh, '/app/not/x'))->code, 200, 'an Admin outside the excluded group: Require not grants');
}

# no roles claim at all
mock_reset();
mock_config({ user => { roles => undef } });
my $ud = new_ua();
is(sign_in($ud, $vh, '/app/x')->code, 200, 'a user without a roles claim: signed in');
denied_page_ok($ud->get(url($vh, '/app/role/x')), 'Admin', 'no roles claim: entra-role Admin');
denied_page_ok($ud->get(url($vh, '/app/claim-array/x')), 'roles:Task.Read', 'no roles claim: entra-claim roles:...');

# not signed in: a Require provider location starts a sign-in (not a 403)
my $anon = new_ua();
my $r = $anon->get(url($vh, '/app/role-missing/x'));
is($r->code, 302, 'not signed in, a denying location: 302 to sign in first');

# ------------------------------------------------ bearer: entra-scope -----
mock_reset();
my $at = api_token();
my $tok = $at->{access_token};
my ($hd, $cl) = jwt_decode($tok);
is($cl->{scp}, 'user_impersonation', 'an API access token with scp user_impersonation');
my $api = new_ua(no_cookies => 1);
my %auth = (Authorization => "Bearer $tok");
my $g = $api->get(url($vh, '/api/items'), %auth);
is($g->code, 200, 'bearer: Require entra-scope user_impersonation: 200');
is($api->get(url($vh, '/api/all/x'), %auth)->code, 200, 'bearer: <RequireAll> scope + tenant: 200');
is($api->get(url($vh, '/api/any/x'), %auth)->code, 200, 'bearer: <RequireAny> missing scope, entra-claim appid: 200');
my $f = $api->get(url($vh, '/api/files/x'), %auth);
is($f->code, 403, 'bearer: Require entra-scope Files.Read: 403');
like($f->decoded_content // '', qr/Files\.Read/, '... the answer names the scope');
ok(!defined location($f), '... no redirect');
is($api->get(url($vh, '/api/items'))->code, 401, 'bearer: no token: 401');

# ------------------------------------------------------- start-up checks --
configtest_passes('every Require provider', [], location => [
    '<RequireAll>', 'Require entra-role Admin', 'Require entra-group ' . $A001, 'Require entra-tenant ' . TENANT,
    'Require entra-claim "name:Adele Vance" ver:2.0', '<RequireAny>', 'Require entra-scope Files.Read',
    'Require valid-user', '</RequireAny>', '</RequireAll>']);
configtest_fails('Require entra-claim without name:value', [], qr/entra-claim/, location => ['Require entra-claim department']);
configtest_fails('Require entra-role without a role', [], qr/entra-role/, location => ['Require entra-role']);

done_testing();
