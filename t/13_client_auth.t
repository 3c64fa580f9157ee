# How the module authenticates to the token endpoint, and secrets from files.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use URI;
use EntraTest;

mock_reset();

# ---- client_secret_basic (and a custom callback path)
{
    my $ua = new_ua();
    my ($final, $s) = sign_in($ua, 'entra_basic', '/app/basic');
    is($s->{authorize_params}{redirect_uri}, base_url('entra_basic') . '/oauth2/callback',
       'EntraRedirectURI path: absolute redirect_uri with that path');
    is(URI->new($s->{callback_url} // '')->path, '/oauth2/callback', 'Entra comes back to the custom callback path');
    is($final->code, 200, 'client_secret_basic: signed in');
    is(scalar echo_header(echo($final) || {}, 'X-Test-Remote-User'), USER->{preferred_username}, '... as Adele');
    my $tok = mock_stats()->{last}{token} || {};
    is($tok->{auth_method}, 'client_secret_basic', 'token request used HTTP Basic');
    is($tok->{basic_client_id}, CLIENT_ID, '... with the client id');
    # the secret holds + & = % ~: RFC 6749 2.3.1 form-encodes it before
    # base64, and the mock (as Entra) decodes it so: a raw "+" would be a space
    is($tok->{basic_client_secret}, CLIENT_SECRET, '... and the secret, exactly, after form-decoding');
    like(CLIENT_SECRET, qr/\+.*&.*=.*%/, '... (a secret that needs encoding)');
    ok(!exists $tok->{client_secret}, '... and no client_secret in the body');
}

# ---- client_secret_post (the default)
{
    my $ua = new_ua();
    is(sign_in($ua, 'entra_main', '/app/post')->code, 200, 'client_secret_post: signed in');
    my $tok = mock_stats()->{last}{token} || {};
    is($tok->{auth_method}, 'client_secret_post', 'token request carried the secret in the body');
    is($tok->{client_secret}, CLIENT_SECRET, '... the configured secret');
}

# ---- EntraClientSecret file: / EntraSessionKey file:
{
    my $ua = new_ua();
    my $final = sign_in($ua, 'entra_secretfile', '/app/file');
    is($final->code, 200, 'secret read from a file (with a trailing newline): signed in');
    my $tok = mock_stats()->{last}{token} || {};
    is($tok->{client_secret}, CLIENT_SECRET, '... the token endpoint got the file\'s secret, newline stripped');

    # the file's session key seals the cookie: it opens here, not on entra_main
    my $cookie = cookie_value($ua, 'entra_session');
    ok($cookie, 'session cookie set');
    my $raw = new_ua(no_cookies => 1);
    is($raw->get(url('entra_secretfile', '/app/again'), Cookie => "entra_session=$cookie")->code, 200,
       'the cookie opens on its own vhost');
    ok(is_login_redirect($raw->get(url('entra_main', '/app/again'), Cookie => "entra_session=$cookie")),
       'the cookie does not open on a vhost with another key');
}

# ---- a secret Entra no longer accepts: 502, not a crash; the log names the AADSTS code
{
    mock_config({ client_secret => 'a-rotated-secret-the-module-does-not-know' });
    my $mark = log_mark();
    my $ua = new_ua();
    my ($final, $s) = sign_in($ua, 'entra_main', '/app/badsecret');
    is($s->{callback} && $s->{callback}->code, 502, 'rejected client secret (invalid_client): 502');
    ok(length($final->content) < 4096, '... short page');
    ok(!find_set_cookie($final, 'entra_session'), '... no session');
    my @l = entra_problems($mark);
    ok(scalar(grep { /7000215/ } @l), '... log names AADSTS7000215') or diag(join "\n", @l);
    ok(scalar(grep { /invalid_client/ } @l), '... and invalid_client') or diag(join "\n", @l);
    mock_reset();
}

done_testing();
