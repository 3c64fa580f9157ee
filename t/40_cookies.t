# The session cookie: tampered, sealed with another key, garbage -> not
# signed in (302 to Entra), never 500; session-key rollover.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MIME::Base64 qw(encode_base64url);
use EntraTest;

mock_reset();
my $mark = log_mark();

sub session_of {
    my ($vhost) = @_;
    my $ua = new_ua();
    my $r = sign_in($ua, $vhost, '/app/cookie');
    is($r->code, 200, "signed in on $vhost");
    return cookie_value($ua, 'entra_session') // '';
}

sub get_with_cookie {
    my ($vhost, $value, $path) = @_;
    my $raw = new_ua(no_cookies => 1);
    return $raw->get(url($vhost, $path // '/app/cookie'), Cookie => "entra_session=$value");
}

my $good = session_of('entra_main');
ok(length $good > 20, 'a session cookie value');

# control: the untouched cookie, sent by hand, works
my $r = get_with_cookie('entra_main', $good);
is($r->code, 200, 'the genuine cookie opens the session');
is(scalar echo_header(echo($r) || {}, 'X-Test-Remote-User'), USER->{preferred_username}, '... as Adele');

# flip the high bit of one base64url character (low bits of the last one may
# be padding a lenient decoder ignores)
my $mid = int(length($good) / 2);
my %bad = (
    'one char flipped in the middle' => flip_b64($good, $mid),
    'first char flipped'             => flip_b64($good, 0),
    'last char flipped'              => flip_b64($good, length($good) - 1),
    'truncated to half'              => substr($good, 0, $mid),
    'one char short'                 => substr($good, 0, -1),
    'four chars extra'               => $good . 'AAAA',
    'empty'                          => '',
    'garbage word'                   => 'garbage',
    'random base64url, 300 bytes'    => encode_base64url(join '', map { chr int rand 256 } 1 .. 300),
    'random base64url, 6000 bytes'   => encode_base64url(join '', map { chr int rand 256 } 1 .. 6000),
    'dots and JWT-like parts'        => 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
    'percent junk'                   => '%00%ff%zz%',
    'only the version byte'          => substr($good, 0, 2),
);
for my $name (sort keys %bad) {
    my $res = get_with_cookie('entra_main', $bad{$name});
    ok(is_login_redirect($res), "cookie $name: 302 to sign-in")
        or diag($res->status_line);
}

# a session sealed by another vhost's key
my $other = session_of('entra_otherkey');
is(get_with_cookie('entra_otherkey', $other)->code, 200, 'entra_otherkey cookie opens on entra_otherkey');
ok(is_login_redirect(get_with_cookie('entra_main', $other)), 'cookie sealed with another key: 302 to sign-in');

# session-key rollover: EntraSessionKey NEW MAIN on entra_keyroll
my $rolled = session_of('entra_keyroll');
is(get_with_cookie('entra_keyroll', $rolled)->code, 200, 'keyroll: its own (new-key) cookie opens');
is(get_with_cookie('entra_keyroll', $good)->code, 200, 'keyroll: a cookie sealed with the old key still opens');
ok(is_login_redirect(get_with_cookie('entra_main', $rolled)), 'main (old key only): the new-key cookie does not');

# two cookies of the same name (e.g. a stale one on a longer path, which
# browsers send first): the one that opens is the session, whichever comes
# first; otherwise a new sign-in could never win over the stale cookie
{
    my $raw = new_ua(no_cookies => 1);
    my $res = $raw->get(url('entra_main', '/app/cookie'), Cookie => "entra_session=garbage; entra_session=$good");
    is($res->code, 200, 'two entra_session cookies, a bad one first: the good one is the session (200)')
        or diag($res->status_line);
    $res = $raw->get(url('entra_main', '/app/cookie'), Cookie => "entra_session=garbage; entra_session=other");
    ok(is_login_redirect($res), '... two bad ones: 302 to sign-in, not an error')
        or diag($res->status_line);
    $res = $raw->get(url('entra_main', '/app/cookie'), Cookie => "entra_session=$good; entra_session=garbage");
    is($res->code, 200, '... the good one first: 200')
        or diag($res->status_line);
}

my @crit = grep { /\[auth_entra:(?:emerg|alert|crit)\]/ } log_since($mark);
is(scalar @crit, 0, 'bad cookies never log at crit or worse') or diag(join "\n", @crit);

done_testing();
