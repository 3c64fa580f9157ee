# Edges a security review found around issue 9 (t/conf/security_edges.conf.in):
# Entra claims only for the user this module authenticated, a bearer token
# is checked again wherever an internal redirect takes it, EntraCookieName
# hides exactly its own cookies, and a stale big session cookie cannot
# block the next sign-in.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MIME::Base64 ();
use EntraTest;
use EntraSessions;

mock_reset();
my $basic = 'Basic ' . MIME::Base64::encode_base64('bob:bobpw', '');

sub session_pair {
    my $ua = shift;
    my ($name) = grep { /^entra_session_[0-9a-f]{8}$/ } cookie_names($ua);
    return $name ? "$name=" . cookie_value($ua, $name) : '';
}

# ---- AuthType Basic + Require entra-*: the Entra cookie speaks for no one
{
    my $ua = new_ua();
    is(sign_in($ua, 'edge_mixed', '/app/x')->code, 200, 'Adele signs in with Entra on the vhost');
    my $adele = session_pair($ua);
    ok($adele, '... and holds its session cookie');
    is(raw_get('edge_mixed', '/basic/x', undef, Authorization => $basic)->code, 401,
         'Basic user bob, Require entra-group: refused (bob has no Entra claims)');
    is(raw_get('edge_mixed', '/basic/x', $adele, Authorization => $basic)->code, 401,
         '... also when the browser carries Adele\'s Entra cookie (it is not bob\'s)');
    mock_config({ user => { groups => [] } });
    my $ua2 = new_ua();
    sign_in($ua2, 'edge_mixed', '/app/x');
    my $groupless = session_pair($ua2);
    mock_reset();
    is(raw_get('edge_mixed', '/basicnot/x', $groupless, Authorization => $basic)->code, 401,
         'Basic user bob, Require not entra-group, an unrelated groupless Entra cookie: refused');
}

# ---- a bearer session is not carried to a location that takes no bearer
{
    my $t = api_token_json(version => 2);
    my @bearer = (Authorization => "Bearer $t->{token}", Accept => 'application/json');
    is(raw_get('edge_redirect', '/admin/x', undef, @bearer)->code, 401,
       'a bearer token at /admin (no EntraAcceptBearer): 401');
    my $via = raw_get('edge_redirect', '/api/nothing-here', undef, @bearer);
    my $e = echo($via) || {};
    ok(!echo_header($e, 'X-Test-Remote-User'),
       '... and not let in by the 404 ErrorDocument under /admin (an internal redirect)')
        or diag($via->code . ' ' . (echo_header($e, 'X-Test-Remote-User') // ''));
}

# ---- EntraCookieName hides its own cookies exactly, on its own vhost only
{
    my $jar = 'session_id=django; sessionToken=abc; sess=x; sess_0=y; sess_pending=z; '
            . 'sess_state_abc=w; sess_1a=keep; sessX=keep; keep=1';
    my $seen = join '; ', echo_header(echo(raw_get('edge_plain', '/open/x', $jar)) || {}, 'Cookie');
    is($seen, $jar, 'another vhost\'s EntraCookieName strips nothing here');
    $seen = join '; ', echo_header(echo(raw_get('edge_named', '/open/x', $jar)) || {}, 'Cookie');
    is($seen, 'session_id=django; sessionToken=abc; sess_1a=keep; sessX=keep; keep=1',
       'its own vhost: sess, its chunks, _pending and _state_* go; look-alikes stay');
}

# ---- a stale chunked session cookie does not block the next sign-in
my $noise = sub { my $n = shift; join '', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9)[rand 62] } 1 .. $n };
my $tried = 0;
for my $n (6700, 6500, 6300, 6000) {
    mock_config({ user => { noise => $noise->($n) } });
    my $ua = new_ua();
    sign_in($ua, 'edge_big', '/app/x');
    my @names = grep { /^entra_session_/ } cookie_names($ua);
    my $total = 0;
    $total += length($_) + 1 + length(cookie_value($ua, $_)) + 2 for @names;
    next unless grep({ /_1$/ } @names) && $total > 6500;
    $tried = 1;
    # the session ends (a chunk that no longer opens); the browser keeps the cookies
    my ($last) = grep { /_1$/ } @names;
    my $v = cookie_value($ua, $last);
    substr($v, 10, 4) = substr($v, 10, 4) eq 'AAAA' ? 'BBBB' : 'AAAA';
    set_cookie($ua, $last, $v);
    my ($final, $steps) = sign_in($ua, 'edge_big', '/app/again?q=' . ('z' x 400));
    ok(scalar(grep { /^entra_session_[0-9a-f]{8}(?:_\d+)?=;.*Max-Age=0/i } set_cookie_headers($steps->{start})),
       "a stale $total-byte session: the sign-in's start deletes its cookies");
    is($final->code, 200, '... and the new sign-in completes') or diag($final->status_line);
    last;
}
ok($tried, 'a two-chunk session of over 6.5 KB was made');
mock_reset();

done_testing();
