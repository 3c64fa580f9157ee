# Directives that take several words, quoted as administrators write Apache
# configuration ("openid profile email offline_access", one argument to
# httpd) and plain: Apache starts with both (q_quoted, q_plain in
# t/conf/quoting.conf.in), and both sign in the same way: the same scopes
# at Entra, the same REMOTE_USER, claim map, allowed tenants, session keys
# and session store. A list directive given on two lines adds up.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;
use EntraSessions;

mock_reset();
my %seen;
for my $vh (qw(q_quoted q_plain)) {
    my $ua = new_ua();
    my ($final, $s) = sign_in($ua, $vh, "/app/$vh");
    is($final->code, 200, "$vh: signed in");
    my @scopes = sort split / /, $s->{authorize_params}{scope} // '';
    is_deeply(\@scopes, [sort qw(openid profile email offline_access)],
              "$vh: Entra is asked for openid profile email offline_access");
    my $h = echo_headers_norm(echo($final) || {});
    my $user = $h->{'x-test-remote-user'}[0] // '';
    ok(length $user, "$vh: REMOTE_USER from EntraRemoteUserClaim upn preferred_username ($user)");
    ok(length($h->{'x-entra-claim-display-name'}[0] // ''),
       "$vh: EntraClaimMap display_name name preferred_username gives the claim");
    my @cookies = cookie_names($ua);
    ok((grep { $_ eq $vh } @cookies), "$vh: its session cookie is named by EntraCookieName");
    my $value = cookie_value($ua, $vh) // '';
    cmp_ok(length $value, '<', 200, "$vh: a short id cookie: the session lives in shmcb");
    is($ua->get(url($vh, "/app/$vh/again"))->code, 200, "$vh: signed in on the next request");
    $seen{$vh} = { scopes => \@scopes, user => $user };
}
is_deeply($seen{q_quoted}, $seen{q_plain}, 'quoted and plain: the same scopes and user');

# a tenant not in the quoted EntraAllowedTenants list is refused: the list
# was read as two tenants, not one odd string
{
    mock_config({ user => { tid => '99999999-8888-4777-8666-555555555555' } });
    my $m = log_mark();
    my $r = sign_in(new_ua(), 'q_quoted', '/app/other-tenant');
    isnt($r->code, 200, 'q_quoted: a tenant outside EntraAllowedTenants is not signed in');
    ok(scalar(grep { /not (?:admitted|allowed)|EntraAllowedTenants/ } log_since($m)),
       '... for EntraAllowedTenants') or diag(join "\n", log_since($m));
    mock_reset();
}

done_testing();
