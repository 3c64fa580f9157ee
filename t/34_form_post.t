# EntraResponseMode form_post: Entra posts code and state to the callback
# from an auto-submitting page (a cross-site POST), so the state cookie must
# be SameSite=None (and Secure).  The vhost keeps the default Secure cookies;
# the test browser behaves as on https (t/lib/EntraSeeds.pm: https_ua).
#
# Decided from the README: the callback "takes GET or POST" whatever the
# response mode (the README restricts nothing; Entra may still redirect an
# error with a GET), so a GET carrying code+state is still honoured; any
# other method gets 405.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use HTTP::Request;
use HTTP::Request::Common qw(POST);
use URI;
use EntraTest;
use EntraSeeds;

my $vh = 'app_formpost';
my $cb_path = '/.auth/login/aad/callback';

mock_reset();
my $mark = log_mark();
my $ua = https_ua();
my ($final, $s) = form_post_sign_in($ua, $vh, '/app/fp/page?a=1&b=two');

# ---- the redirect to Entra
is($s->{start}->code, 302, 'not signed in: 302 to Entra');
my $q = $s->{authorize_params} || {};
is($q->{response_mode}, 'form_post', 'authorize URL says response_mode=form_post');
is($q->{redirect_uri}, base_url($vh) . $cb_path, '... redirect_uri = the callback');
my $state = $q->{state} // '';
my $sc = find_set_cookie($s->{start}, "__Secure-entra_session_state_$state") // '';
ok($sc, 'state cookie set') or diag(join "\n", set_cookie_headers($s->{start}));
like($sc, qr/;\s*SameSite=None\b/i, '... SameSite=None (it must ride on Entra\'s cross-site POST)');
like($sc, qr/;\s*Secure\b/i, '... Secure (browsers drop SameSite=None without it)');
like($sc, qr/;\s*HttpOnly\b/i, '... HttpOnly');
like($sc, qr/;\s*Path=\Q$cb_path\E(?:;|\s*$)/i, '... only for the callback path');

# ---- Entra's page
is($s->{authorize} && $s->{authorize}->code, 200, 'the mock answers with the auto-submit page');
is($s->{form_method}, 'POST', '... a POST form');
is($s->{form_action}, base_url($vh) . $cb_path, '... to the callback');
my %f = @{ $s->{form_fields} || [] };
is($f{state}, $state, '... carrying our state');
ok($f{code}, '... and a code');

# ---- the POST to the callback
my $cb = $s->{callback};
is($cb && $cb->code, 302, 'cross-site POST of code+state to the callback: 302');
is($cb && URI->new_abs(location($cb) // '', base_url($vh))->as_string,
   url($vh, '/app/fp/page?a=1&b=two'), '... back to the original URL');
my $sess = $cb ? find_set_cookie($cb, '__Host-entra_session') // '' : '';
ok($sess, '... session cookie set');
like($sess, qr/;\s*Secure\b/i, '... Secure');
like($sess, qr/;\s*SameSite=Lax\b/i, '... the session cookie itself stays SameSite=Lax');
like($cb ? find_set_cookie($cb, "__Secure-entra_session_state_$state") // '' : '',
     qr/Max-Age=0\b|Expires=[^;]*19[0-9][0-9]/i, '... state cookie cleared');
is(mock_stats()->{last}{token}{grant_type}, 'authorization_code', '... the code was redeemed');

is($final->code, 200, 'signed in: the original URL reaches the backend');
my $e = echo($final) || {};
is($e->{query}, 'a=1&b=two', '... with its query');
is(remote_user(claims_of($final)), USER->{preferred_username}, '... as the user');
my @p = entra_problems($mark);
is(scalar @p, 0, 'no warnings or errors from a clean form_post sign-in') or diag(join "\n", @p);

# ---- the POSTed code cannot be replayed
my $replay = $ua->request(POST($s->{form_action}, $s->{form_fields}));
is($replay->code, 400, 'the same form POSTed again: 400 (state used up)');

# ---- GET with the code and state in the query still works (README: GET or POST)
mock_reset();
my $ua2 = https_ua();
my $start = start_login($ua2, $vh, '/app/fp/get');
my $au = abs_location($start);
my $page = $ua2->get($au);
my ($action, $fields) = parse_form_post($page->decoded_content);
ok($action, 'second sign-in: Entra\'s form page');
my $get_cb = URI->new($action // url($vh, $cb_path));
$get_cb->query_form(@{ $fields || [] });
my $got = $ua2->get($get_cb);
is($got->code, 302, 'GET to the callback with form_post\'s code+state in the query: 302');
ok(find_set_cookie($got, '__Host-entra_session'), '... signed in');
is(follow($ua2, $got)->code, 200, '... and the original URL is served');

# ---- other methods: 405
for my $m (qw(PUT DELETE PATCH)) {
    my $req = HTTP::Request->new($m => url($vh, $cb_path), ['Content-Type' => 'application/x-www-form-urlencoded'],
                                 'code=abc&state=def');
    my $r = new_ua()->request($req);
    is($r->code, 405, "$m to the callback: 405");
    my $allow = $r->header('Allow') // '';
    like($allow, qr/\bGET\b/, "... Allow names GET") ;
    like($allow, qr/\bPOST\b/, "... Allow names POST");
    ok(!find_set_cookie($r, 'entra_session'), "... no session");
}

# ---- a POST that is not a form: 400, no session
mock_reset();
my $ua3 = https_ua();
my $st3 = start_login($ua3, $vh, '/app/fp/json');
my $au3 = abs_location($st3);
my (undef, $fields3) = parse_form_post($ua3->get($au3)->decoded_content);
my %f3 = @{ $fields3 || [] };
my $json_post = $ua3->post(url($vh, $cb_path), 'Content-Type' => 'application/json',
                           Content => JSON::PP->new->encode(\%f3));
is($json_post->code, 400, 'POST with a JSON body (not a form): 400');
ok(!find_set_cookie($json_post, 'entra_session'), '... no session');

# ---- a forged POST without the state cookie (another browser): 400
my $forged = new_ua()->request(POST(url($vh, $cb_path), [code => $f3{code} // 'x', state => $f3{state} // 'y']));
is($forged->code, 400, 'form POST from a browser without the state cookie: 400');
ok(!find_set_cookie($forged, 'entra_session'), '... no session');

# ---- Entra reporting an error by form_post
mock_reset();
mock_config({ authorize_error => { error => 'access_denied',
                                   error_description => 'AADSTS65004: User declined to consent to access the app.' } });
$mark = log_mark();
my ($err_final, $es) = form_post_sign_in(https_ua(), $vh, '/app/fp/declined');
my $ecb = $es->{callback};
is($ecb && $ecb->code, 401, 'error POSTed by Entra: 401');
like($ecb ? $ecb->decoded_content : '', qr/AADSTS65004/, '... the page shows Entra\'s message');
ok(scalar(grep { /AADSTS65004/ } entra_problems($mark)), '... and the log the AADSTS code');

mock_reset();
# ------------------------------------------------------- start-up checks --
configtest_passes('EntraResponseMode form_post', ['EntraResponseMode form_post']);
configtest_passes('EntraResponseMode query', ['EntraResponseMode query']);
configtest_fails('EntraResponseMode fragment (needs a script)', ['EntraResponseMode fragment'], qr/EntraResponseMode/);

done_testing();
