# /.auth/logout: the local session ends, and the browser goes to a
# same-origin post_logout_redirect_uri or to /.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use URI;
use URI::Escape qw(uri_escape);
use EntraTest;

mock_reset();
my $vh = 'entra_main';
my $ua = new_ua();

is(sign_in($ua, $vh, '/app/')->code, 200, 'signed in');
ok(defined cookie_value($ua, 'entra_session'), 'browser holds entra_session');

my $out = $ua->get(url($vh, '/.auth/logout'), SAME_SITE);
is($out->code, 302, 'logout -> 302');
is(abs_location($out), url($vh, '/'), '... to / without post_logout_redirect_uri');
my $clear = find_set_cookie($out, 'entra_session') // '';
like($clear, qr/;\s*Max-Age=0\b/i, '... entra_session cleared (Max-Age=0)')
    or diag(join "\n", set_cookie_headers($out));
like($clear, qr/;\s*Path=\/(?:;|\s*$)/i, '... on Path=/');
ok(!defined cookie_value($ua, 'entra_session'), 'browser dropped the session cookie');
ok(is_login_redirect($ua->get(url($vh, '/app/'))), 'protected page asks for a sign-in again');

# Where logout may send the browser
my $hp = hostport($vh);
(my $other_port = $hp) =~ s/:(\d+)$/':' . ($1 + 1)/e;
my @cases = (
    ['/bye?x=1&y=2'                    => url($vh, '/bye?x=1&y=2'), 'same-origin path (with query)'],
    [url($vh, '/goodbye')              => url($vh, '/goodbye'),     'same-origin absolute URL'],
    ['https://evil.example/'           => url($vh, '/'),            'foreign absolute URL refused'],
    ['http://localhost.evil.example/'  => url($vh, '/'),            'look-alike host refused'],
    ["http://$other_port/"             => url($vh, '/'),            'same host, other port refused'],
    ['//evil.example/x'                => url($vh, '/'),            'scheme-relative URL refused'],
    ['/\\evil.example/x'               => url($vh, '/'),            '"/\\host" (browsers read //host) refused'],
    ['javascript:alert(1)'             => url($vh, '/'),            'javascript: URL refused'],
    ["http://$hp\@evil.example/"       => url($vh, '/'),            'userinfo trick refused'],
);
for my $c (@cases) {
    my ($target, $want, $name) = @$c;
    my $b = new_ua();
    my $r = $b->get(url($vh, '/.auth/logout?post_logout_redirect_uri=' . uri_escape($target)), SAME_SITE);
    is($r->code, 302, "logout, $name: 302");
    my $loc = location($r) // '';
    is(abs_location($r) // '', $want, "logout, $name: Location") or diag("Location: $loc");
    unlike($loc, qr/evil\.example/, "logout, $name: never names the foreign host");
}

# logout when not signed in: still fine
my $anon = new_ua();
my $r = $anon->get(url($vh, '/.auth/logout'), SAME_SITE);
is($r->code, 302, 'logout without a session: 302');
is(abs_location($r), url($vh, '/'), '... to /');

done_testing();
