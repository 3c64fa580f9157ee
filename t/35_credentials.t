# Client credentials without a secret: a certificate (private_key_jwt,
# RS256 + x5t by default, PS256 + x5t#S256 on request) and a federated
# credential (a workload identity token read from a file, re-read when it
# changes).  Also the start-up checks (`httpd -t`).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use URI::Escape qw(uri_escape);
use EntraTest;
use EntraSeeds;

my $cert_pem = slurp(credential_file('client_cert.pem'));
my ($x5t, $x5t256) = cert_thumbprints($cert_pem);
my $token_url = mock_base() . '/' . TENANT . '/oauth2/v2.0/token';
{
    # the key never shows up in the log (t/99_no_secrets.t)
    my ($line) = grep { length == 64 } split /\n/, slurp(credential_file('client_key.pem'));
    record_secret('client private key', $line);
}

sub register_cert { mock_config({ client_certificate => shift // $cert_pem }) }

# The assertion as the mock's token endpoint received it
sub last_assertion {
    my $t = mock_stats()->{last}{token} || {};
    record_secret('client_assertion', $t->{client_assertion_jwt});
    return $t;
}

# ------------------------------------------------- certificate, RS256 -----
mock_reset();
register_cert();
my $mark = log_mark();
my $t0 = time;
my $final = sign_in(new_ua(), 'app_cert', '/app/cert');
is($final->code, 200, 'certificate credential (RS256): signed in');
is(remote_user(claims_of($final)), USER->{preferred_username}, '... as the user');
my $t = last_assertion();
is($t->{auth_method}, 'private_key_jwt', 'token request authenticated with a client assertion');
ok(!exists $t->{client_secret}, '... and no client secret');
is($t->{client_assertion_type}, 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
   '... client_assertion_type jwt-bearer');
my $hd = $t->{client_assertion}{header} || {};
my $cl = $t->{client_assertion}{claims} || {};
is($hd->{alg}, 'RS256', 'header alg RS256 (default)');
is($hd->{x5t}, $x5t, 'header x5t = base64url SHA-1 thumbprint of the certificate');
ok(!exists $hd->{'x5t#S256'}, '... no x5t#S256 with RS256');
is($cl->{aud}, $token_url, 'aud = the token endpoint');
is($cl->{iss}, CLIENT_ID, 'iss = client id');
is($cl->{sub}, CLIENT_ID, 'sub = client id');
like($cl->{jti} // '', qr/^\S{16,}$/, 'jti present');
ok(defined $cl->{exp} && $cl->{exp} > $t0 && $cl->{exp} <= time + 600, 'exp: in the future, at most 10 minutes away')
    or diag("exp=" . ($cl->{exp} // 'undef') . " now=" . time);
ok(!defined $cl->{nbf} || $cl->{nbf} <= time + 5, 'nbf (if any) not in the future');
my $jti1 = $cl->{jti} // '';
is(scalar(entra_problems($mark)), 0, 'no warnings or errors');

$final = sign_in(new_ua(), 'app_cert', '/app/cert-2');
is($final->code, 200, 'second sign-in with the certificate');
$t = last_assertion();
isnt($t->{client_assertion}{claims}{jti} // '', $jti1, '... a fresh jti each time');

# ------------------------------------------------- certificate, PS256 -----
$final = sign_in(new_ua(), 'app_cert_ps256', '/app/ps256');
is($final->code, 200, 'certificate credential (PS256): signed in (the mock verified the PSS signature)');
$t = last_assertion();
$hd = $t->{client_assertion}{header} || {};
$cl = $t->{client_assertion}{claims} || {};
is($hd->{alg}, 'PS256', 'header alg PS256');
is($hd->{'x5t#S256'}, $x5t256, 'header x5t#S256 = base64url SHA-256 thumbprint');
is($cl->{aud}, $token_url, 'aud = the token endpoint');
is($cl->{iss}, CLIENT_ID, 'iss = client id');
is($cl->{sub}, CLIENT_ID, 'sub = client id');

# --------------------------------------- certificate not registered -------
for my $case (['none registered', undef], ['another certificate registered', 'other']) {
    my ($what, $other) = @$case;
    mock_reset();
    if ($other) {
        my $c = JSON::PP->new->decode(mock_post('/_mock/client_certificate', { register => JSON::PP::true() })->content);
        ok($c->{registered}, "$what: the mock registered a certificate of its own");
    }
    for my $vh (qw(app_cert app_cert_ps256)) {
        $mark = log_mark();
        my (undef, $s) = sign_in(new_ua(), $vh, "/app/unregistered");
        is($s->{callback} && $s->{callback}->code, 502, "$vh, $what: 502");
        ok(!find_set_cookie($s->{callback}, 'entra_session'), "$vh, $what: no session");
        my @l = entra_problems($mark);
        ok(scalar(grep { /ENTRA[0-9]{5}:/ && /AADSTS700027/ } @l), "$vh, $what: the log has Entra's AADSTS700027")
            or diag(join "\n", @l);
    }
}

# ------------------------------------------------ federated credential ----
my $fed_file = credential_file('federated_token.jwt');
my $placeholder = slurp($fed_file);
END { spew($fed_file, $placeholder) if defined $placeholder && defined $fed_file }

my $fic = { federated_issuer   => 'https://oidc.prod-aks.azure.com/2f0a8e6d-1c1b-4d8e-9a53-1f4b8f0c7e21/',
            federated_subject  => 'system:serviceaccount:web:apache' };

sub fed_token {
    my %q = @_;
    my $qs = join '&', 'format=json', map { "$_=" . uri_escape($q{$_}) } sort keys %q;
    my $r = mock_get("/_mock/federated_token?$qs");
    die 'federated_token: ' . $r->status_line unless $r->is_success;
    my $j = JSON::PP->new->decode($r->content);
    record_secret('federated token', $j->{token});
    return $j->{token};
}

mock_reset();
mock_config($fic);
my $tok1 = fed_token();
spew($fed_file, "$tok1\n");
$mark = log_mark();
$final = sign_in(new_ua(), 'app_federated', '/app/federated');
is($final->code, 200, 'federated credential: signed in');
$t = last_assertion();
is($t->{auth_method}, 'federated', '... the token endpoint got a federated assertion');
is($t->{client_assertion_jwt}, $tok1, '... exactly the token in the file (trailing newline dropped)');
is($t->{client_id}, CLIENT_ID, '... with client_id');
ok(!exists $t->{client_secret}, '... and no client secret');
is(scalar(entra_problems($mark)), 0, '... no warnings or errors');

# the platform rotates the token: the next sign-in sends the new one
my $tok2 = fed_token();
isnt($tok2, $tok1, 'a second, different token');
spew($fed_file, $tok2);
$final = sign_in(new_ua(), 'app_federated', '/app/federated-rotated');
is($final->code, 200, 'after rotation: signed in');
is(last_assertion()->{client_assertion_jwt}, $tok2, '... with the new token (the file was re-read)');

# broken tokens: Entra refuses, the user gets 502, the log says why
my @bad = (
    ['expired token',      { exp_in => -120 },                                     'AADSTS700024'],
    ['other subject',      { sub => 'system:serviceaccount:other:sa' },            'AADSTS700213'],
    ['other issuer',       { iss => 'https://token.actions.githubusercontent.com' }, 'AADSTS700211'],
    ['other audience',     { aud => 'api://SomethingElse' },                       'AADSTS700212'],
);
for my $b (@bad) {
    my ($what, $q, $code) = @$b;
    spew($fed_file, fed_token(%$q));
    $mark = log_mark();
    my (undef, $s) = sign_in(new_ua(), 'app_federated', '/app/federated-bad');
    is($s->{callback} && $s->{callback}->code, 502, "federated, $what: 502");
    ok(!find_set_cookie($s->{callback}, 'entra_session'), "federated, $what: no session");
    ok(scalar(grep { /ENTRA[0-9]{5}:/ && /\Q$code\E/ } entra_problems($mark)), "federated, $what: the log has $code")
        or diag(join "\n", entra_problems($mark));
}

# no federated credential registered at Entra for this app
mock_reset();
spew($fed_file, fed_token(iss => $fic->{federated_issuer}, sub => $fic->{federated_subject}));
$mark = log_mark();
my (undef, $s) = sign_in(new_ua(), 'app_federated', '/app/federated-unregistered');
is($s->{callback} && $s->{callback}->code, 502, 'federated, no credential registered at Entra: 502');
ok(scalar(grep { /AADSTS70021\b/ } entra_problems($mark)), '... the log has AADSTS70021');

# an empty file: nothing to send, the module says so (and does not call Entra)
mock_config($fic);
spew($fed_file, "\n");
$mark = log_mark();
my $tok_before = mock_stats()->{requests}{token};
(undef, $s) = sign_in(new_ua(), 'app_federated', '/app/federated-empty');
my $code = $s->{callback} ? $s->{callback}->code : 0;
is($code, 500, "federated, empty file: 500 (the credential cannot be used), not a sign-in");
ok(!find_set_cookie($s->{callback}, 'entra_session'), '... no session');
is(mock_stats()->{requests}{token}, $tok_before, '... and no token request with an empty assertion');
ok(scalar(grep { /federated_token\.jwt/ } entra_problems($mark)), '... the log names the file')
    or diag(join "\n", entra_problems($mark));

# a file the server's user cannot read any more (it was readable at
# start-up): 500, and the log names the file and the error (root reads
# anything: skipped then)
SKIP: {
    skip 'root reads any file', 4 if $> == 0;
    spew($fed_file, fed_token());
    chmod 0000, $fed_file;
    $mark = log_mark();
    (undef, $s) = sign_in(new_ua(), 'app_federated', '/app/federated-unreadable');
    chmod 0644, $fed_file;
    is($s->{callback} ? $s->{callback}->code : 0, 500, 'federated, unreadable file: 500');
    ok(!find_set_cookie($s->{callback}, 'entra_session'), '... no session');
    my @l = grep { /ENTRA00211:/ } entra_problems($mark);
    is(scalar @l, 1, '... one ENTRA00211 line') or diag(join "\n", entra_problems($mark));
    like($l[0] // '', qr/cannot read EntraClientAssertionFile \S*federated_token\.jwt as uid \d+: Permission denied/,
         '... naming the file, the uid and the error');
}

# good again
spew($fed_file, fed_token());
is(sign_in(new_ua(), 'app_federated', '/app/federated-again')->code, 200, 'federated: a good token again: signed in');
spew($fed_file, $placeholder);

# ------------------------------------------------------- start-up checks --
my $cert  = credential_file('client_cert.pem');
my $key   = credential_file('client_key.pem');
my $other = credential_file('other_key.pem');
my $frame = sub { configtest_vhost(shift, no_secret => 1) };
my ($rc, $out) = configtest($frame->(["EntraClientCertificate $cert", "EntraClientKey $key"]));
is($rc, 0, 'configtest: certificate + its key, no secret: OK') or diag($out);
($rc, $out) = configtest($frame->(["EntraClientCertificate $cert", "EntraClientKey $key",
                                   'EntraClientAssertionAlg PS256']));
is($rc, 0, 'configtest: ... with EntraClientAssertionAlg PS256: OK') or diag($out);
($rc, $out) = configtest($frame->(["EntraClientAssertionFile $fed_file"]));
is($rc, 0, 'configtest: EntraClientAssertionFile alone, no secret: OK') or diag($out);

my $ec_cert = credential_file('ec_cert.pem');
my $ec_key  = credential_file('ec_key.pem');
my $notpem  = File::Spec->catfile(Apache::Test::config()->{vars}{t_logs}, 'not_a_pem.txt');
spew($notpem, "this is not PEM\n");
my @bad_conf = (
    ['key of another certificate', ["EntraClientCertificate $cert", "EntraClientKey $other"], qr/EntraClientKey/],
    ['certificate without a key',  ["EntraClientCertificate $cert"],                          qr/EntraClientKey/],
    ['key file that is not PEM',   ["EntraClientCertificate $cert", "EntraClientKey $notpem"], qr/EntraClientKey/],
    ['certificate file that is not PEM', ["EntraClientCertificate $notpem", "EntraClientKey $key"], qr/EntraClientCertificate/],
    ['an EC key (Entra needs RSA)', ["EntraClientCertificate $ec_cert", "EntraClientKey $ec_key"], qr/EntraClientKey|RSA/],
    ['relative certificate path',  ['EntraClientCertificate conf/credentials/client_cert.pem', "EntraClientKey $key"], qr/EntraClientCertificate/],
    ['missing key file',           ["EntraClientCertificate $cert", 'EntraClientKey /nonexistent/key.pem'], qr/EntraClientKey/],
    ['EntraClientAssertionAlg HS256', ["EntraClientCertificate $cert", "EntraClientKey $key", 'EntraClientAssertionAlg HS256'], qr/EntraClientAssertionAlg/],
    ['missing assertion file',     ['EntraClientAssertionFile /nonexistent/token'], qr/EntraClientAssertionFile/],
    ['no credential at all',       [], qr/EntraClientSecret|EntraClientCertificate|EntraClientAssertionFile|credential/],
);
for my $b (@bad_conf) {
    my ($what, $lines, $expect) = @$b;
    ($rc, $out) = configtest($frame->($lines));
    isnt($rc, 0, "configtest fails: $what");
    unlike($out, qr/Syntax OK/, "... no Syntax OK ($what)");
    like($out, $expect, "... the message names the directive ($what)") or diag($out);
    unlike($out, qr/Segmentation|core dumped|Aborted/i, "... no crash ($what)");
}
unlink $notpem;

done_testing();
