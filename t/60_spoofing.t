# A client cannot smuggle claims: every X-Entra-* request header it sends
# (any case, '_' for '-') is gone before the backend sees the request.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Request;
use EntraTest;

mock_reset();
my $vh = 'entra_main';
my $ua = new_ua();
is(sign_in($ua, $vh, '/app/')->code, 200, 'signed in');

# ':' keeps HTTP::Headers from canonicalising the names: sent exactly as written
my @spoof = (
    ':X-Entra-Claim-oid'                => 'evil-oid-1',
    ':X-Entra-Claim-oid'                => 'evil-oid-2',
    ':x_entra_claim_oid'                => 'evil-oid-3',
    ':X-ENTRA-CLAIM-ROLES'              => 'GlobalAdministrator',
    ':x-entra-claim-roles'              => 'Owner',
    ':X_Entra_Claim_Preferred_Username' => 'mallory@evil.example',
    ':X-Entra-Claim-preferred-username' => 'mallory2@evil.example',
    ':X-Entra-Claim-upn'                => 'ceo@contoso.test',     # a claim the token does not have
    ':X-Entra-Claim-Evil'               => 'yes',
    ':X-Entra-Anything'                 => 'smuggled',
    ':x-entra-'                         => 'bare-prefix',
    ':X-Entra-Claim-groups'             => 'ffffffff-ffff-ffff-ffff-ffffffffffff',
);
my $req = HTTP::Request->new(GET => url($vh, '/app/spoof'));
$req->headers->push_header(@spoof[2 * $_, 2 * $_ + 1]) for 0 .. $#spoof / 2;
my $r = $ua->request($req);
is($r->code, 200, 'request with spoofed headers served');
my $e = echo($r) || {};
my $h = echo_headers_norm($e);

is_deeply($h->{'x-entra-claim-oid'}, [USER->{oid}], 'oid: only the real value');
is_deeply($h->{'x-entra-claim-roles'}, [join ',', @{ USER->{roles} }], 'roles: only the real value');
is_deeply($h->{'x-entra-claim-preferred-username'}, [USER->{preferred_username}], 'preferred_username: only the real value');
is_deeply($h->{'x-entra-claim-groups'}, [join ',', @{ USER->{groups} }], 'groups: only the real value');
ok(!exists $h->{'x-entra-claim-upn'}, 'a claim the token lacks: spoofed header removed');
ok(!exists $h->{'x-entra-claim-evil'}, 'an invented claim: removed');
ok(!exists $h->{'x-entra-anything'}, 'other X-Entra-* header: removed');
ok(!exists $h->{'x-entra-'}, 'bare X-Entra- header: removed');
is_deeply($h->{'x-test-remote-user'}, [USER->{preferred_username}], 'REMOTE_USER unaffected');
is_deeply($h->{'x-test-env-oid'}, [USER->{oid}], 'ENTRA_CLAIM_oid env unaffected');
my @smuggled = grep { /evil|mallory|GlobalAdministrator|Owner|smuggled|bare-prefix|ceo\@|ffffffff/ }
               map { @{ $h->{$_} } } grep { /^x-entra-/ } keys %$h;
is(scalar @smuggled, 0, 'no spoofed value reached the backend') or diag(join ', ', @smuggled);

# not signed in: spoofed headers do not sign anybody in
my $anon = new_ua();
my $req2 = HTTP::Request->new(GET => url($vh, '/app/spoof'));
$req2->headers->push_header(':X-Entra-Claim-oid' => USER->{oid});
$req2->headers->push_header(':X-Entra-Claim-preferred_username' => USER->{preferred_username});
ok(is_login_redirect($anon->request($req2)), 'spoofed claim headers without a session: 302 to sign-in');

# Claim values come from the IdP, but they still must not break the request
# to the backend: no header injection through CR/LF in a claim, no 5xx.
{
    mock_reset();
    mock_config({ user => { name       => "Adele\r\nX-Injected-Name: yes",
                            department => "R&D\nX-Injected-Dept: yes" } });
    my $b = new_ua();
    my $f = sign_in($b, $vh, '/app/inject');
    is($f->code, 200, 'claims with CR/LF: signed in, no server error') or diag($f->status_line);
    my $hh = echo_headers_norm(echo($f) || {});
    ok(!exists $hh->{'x-injected-name'} && !exists $hh->{'x-injected-dept'},
       '... and no header injected into the backend request');
    is_deeply($hh->{'x-entra-claim-oid'}, [USER->{oid}], '... the other claims still arrive');
}
{
    # a NUL in a claim: the ID token is not accepted (its JSON holds \u0000)
    mock_reset();
    mock_config({ user => { jobTitle => "Retail\x00Manager" } });
    my $m = log_mark();
    my (undef, $s) = sign_in(new_ua(), $vh, '/app/inject-nul');
    is($s->{callback} && $s->{callback}->code, 401, 'a claim with a NUL: the sign-in is refused (401), no server error');
    ok(!find_set_cookie($s->{callback}, 'entra_session'), '... no session');
    ok(scalar(grep { /ENTRA00208:.*ID token rejected/ } entra_problems($m)), '... logged (ENTRA00208)')
        or diag(join "\n", entra_problems($m));
}
{
    mock_reset();
    mock_config({ user => { name => "Ad\x{e8}le V\x{e4}nce \x{1F600}" } });
    my $f = sign_in(new_ua(), $vh, '/app/utf8');
    is($f->code, 200, 'non-ASCII claim value: signed in');
    ok(length(scalar echo_header(echo($f) || {}, 'X-Entra-Claim-name') // ''), '... X-Entra-Claim-name present');
}
mock_reset();

done_testing();
