# The mock as strict as Entra, seen from the module: redirect URIs must be
# registered exactly (scheme, host, port, path: Entra shows its own error
# page and never redirects to another one); EntraPrompt none needs an Entra
# session (else login_required comes back, and the module shows it);
# EntraPrompt login makes Entra ask for credentials again; login_hint from
# the request reaches Entra.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;

mock_reset();
my $info = mock_info();
my $cb = '/.auth/login/aad/callback';
my %registered = map { $_ => 1 } @{ $info->{redirect_uris} || [] };
$registered{ url('entra_main', $cb) } && $registered{ url('entra_basic', '/oauth2/callback') }
    or BAIL_OUT('t/TEST did not register the sites\' redirect URIs with the mock');

# ---- the redirect URI the module sends is the registered one
{
    my ($final, $s) = sign_in(new_ua(), 'entra_main', '/app/registered');
    is($s->{authorize_params}{redirect_uri}, url('entra_main', $cb), 'entra_main: redirect_uri = the registered one');
    is($final->code, 200, '... Entra accepts it and the sign-in completes');
}

# ---- a Host the app registration does not know (here 127.0.0.1 instead
# of the registered localhost): the module builds its redirect_uri from it,
# and Entra refuses with its own page, sending the browser nowhere
{
    my $ua = new_ua();
    (my $ip_site = base_url('entra_main')) =~ s{//[^:/]+:}{//127.0.0.1:};
    my $start = $ua->get("$ip_site/app/by-ip");
    ok(is_login_redirect($start), 'Host 127.0.0.1: the module sends the browser to Entra');
    my $ru = query_params(abs_location($start) // '')->{redirect_uri} // '';
    is($ru, "$ip_site$cb", '... with a redirect_uri on that host');
    my $before = mock_stats()->{grants}{authorization_code};
    my $at = $ua->get(abs_location($start));
    is($at->code, 400, '... Entra answers 400');
    ok(!defined location($at), '... and redirects nowhere (not to the unregistered URI)');
    like($at->decoded_content // '', qr/AADSTS50011: The redirect URI (?:'|&#x27;)\Q$ru\E(?:'|&#x27;) specified in the request does not match/,
         '... its page says AADSTS50011 with the URI');
    is(mock_stats()->{grants}{authorization_code}, $before, '... no code, so no token request');
}

# ---- EntraPrompt none
{
    my $ua = new_ua();
    my $m = log_mark();
    my ($final, $s) = sign_in($ua, 'strict_prompt_none', '/app/silent');
    is($s->{authorize_params}{prompt}, 'none', 'EntraPrompt none: prompt=none sent');
    is($s->{callback_params}{error}, 'login_required', '... no Entra session: Entra answers login_required');
    like($s->{callback_params}{error_description} // '', qr/^AADSTS50058: /, '... AADSTS50058');
    is($final->code, 401, '... the module shows its sign-in-failed page (401)');
    like($final->decoded_content // '', qr/AADSTS50058/, '... with Entra\'s first line');
    my @l = grep { /ENTRA00205:/ && /error=login_required/ && /trace_id=[0-9a-f-]{36}/ } entra_lines($m);
    is(scalar @l, 1, '... ENTRA00205 with the error and its trace id');

    # the same browser after a sign-in elsewhere has an Entra session: silent
    is(sign_in($ua, 'entra_main', '/app/first')->code, 200, 'signed in on entra_main (an Entra session)');
    ($final, $s) = sign_in($ua, 'strict_prompt_none', '/app/silent');
    is($final->code, 200, 'EntraPrompt none with an Entra session: signed in silently');
    is(mock_stats()->{last}{authorize}{_signed_in}, 'sso', '... Entra did not ask for credentials');
}

# ---- EntraPrompt login: credentials again, even with an Entra session
{
    my $ua = new_ua();
    is(sign_in($ua, 'entra_main', '/app/first')->code, 200, 'signed in on entra_main');
    is(mock_stats()->{last}{authorize}{_signed_in}, 'fresh', '... with credentials (no Entra session yet)');
    is(sign_in($ua, 'entra_otherkey', '/app/second')->code, 200, 'another site without EntraPrompt');
    is(mock_stats()->{last}{authorize}{_signed_in}, 'sso', '... single sign-on (no credentials asked)');
    my ($final, $s) = sign_in($ua, 'strict_prompt_login', '/app/again');
    is($s->{authorize_params}{prompt}, 'login', 'EntraPrompt login: prompt=login sent');
    is($final->code, 200, '... signed in');
    is(mock_stats()->{last}{authorize}{_signed_in}, 'fresh', '... and Entra asked for credentials again');
}

# ---- login_hint from the request reaches Entra (max_age: the module sends none)
{
    my ($final, $s) = sign_in(new_ua(), 'entra_main', '/app/hint?login_hint=adele%2Btest%40contoso.test');
    is($final->code, 200, 'login_hint in the request: signed in');
    is(mock_stats()->{last}{authorize}{login_hint}, 'adele+test@contoso.test', '... Entra got the login_hint, decoded exactly');
    ok(!exists $s->{authorize_params}{max_age}, '... no max_age (the module has no such setting)');
}

mock_reset();
done_testing();
