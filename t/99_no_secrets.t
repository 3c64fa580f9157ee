# No secret ever reaches t/logs/error_log: the client secret, session keys,
# authorization codes, PKCE verifiers, tokens, cookie values.  The module
# logs at trace8 in this suite (t/conf/extra.conf.in), so this covers its
# chattiest output.  Runs last: it reads the log of the whole run plus every
# code and cookie the other files recorded (t/logs/entra_secrets_seen.txt).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Spec;
use EntraTest;

# Make some traffic of our own, so this file means something alone too:
# a sign-in, a bad token, an Entra error, a failing token endpoint, a bad cookie.
mock_reset();
my $ua = new_ua();
is(sign_in($ua, 'entra_main', '/app/secrets')->code, 200, 'signed in');
my $session = cookie_value($ua, 'entra_session');
mock_config({ bad_token => 'wrong_aud' });
sign_in(new_ua(), 'entra_main', '/app/secrets-bad');
mock_reset();
mock_config({ authorize_error => { error => 'access_denied', error_description => 'AADSTS65004: declined' } });
sign_in(new_ua(), 'entra_main', '/app/secrets-err');
mock_reset();
{
    my $b = new_ua();
    my $authz = authorize_at_mock($b, start_login($b, 'entra_main', '/app/secrets-tok'));
    mock_config({ token_error => { error => 'invalid_grant', code => 70008, status => 400 } });
    finish_callback($b, $authz);
    mock_reset();
}
my $last = log_mark();
new_ua(no_cookies => 1)->get(url('entra_main', '/app/x'), Cookie => 'entra_session=' . substr($session // 'x', 0, 40));
# until httpd has logged that last request (its sign-in redirect)
wait_log($last, qr{ENTRA00204: .*will return to /app/x\s*$}, 5);

my $log_file = File::Spec->catfile(Apache::Test::config()->{vars}{t_logs}, 'error_log');
open my $fh, '<', $log_file or die "cannot read $log_file: $!";
my @log = <$fh>;
close $fh;
my $log = join '', @log;
my @entra = grep { /\[auth_entra:/ } @log;
ok(scalar @entra, sprintf('the module did log (%d lines) - the check below is not vacuous', scalar @entra));

my %secret = (
    'client secret'          => CLIENT_SECRET,
    'session key (main)'     => KEY_MAIN,
    'session key (other)'    => KEY_OTHER,
    'session key (rollover)' => KEY_NEW,
    'session key (file)'     => KEY_FILE,
);
my $n = 0;
if (open my $sf, '<', File::Spec->catfile(Apache::Test::config()->{vars}{t_logs}, 'entra_secrets_seen.txt')) {
    while (my $l = <$sf>) {
        chomp $l;
        my ($kind, $v) = split /\t/, $l, 2;
        next unless defined $v && length $v >= 8;
        $secret{"$kind #" . ++$n} = $v;
    }
}
ok($n >= 4, "codes, verifiers and cookie values recorded during the run: $n");

my @leaks;
for my $name (sort keys %secret) {
    my $v = $secret{$name};
    my @pieces = ($v);
    # a long value must not show up in part either (a prefix or suffix of 24)
    push @pieces, substr($v, 0, 24), substr($v, -24) if length $v >= 40;
    for my $p (@pieces) {
        if (index($log, $p) >= 0) {
            my ($line) = grep { index($_, $p) >= 0 } @log;
            push @leaks, "$name: $line";
            last;
        }
    }
}
is(scalar @leaks, 0, 'no secret, code, verifier or cookie value in the error log')
    or diag(join "\n", @leaks[0 .. ($#leaks < 9 ? $#leaks : 9)]);

# nothing that looks like a JWT (ID or access token) either
my @jwt = grep { /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}/ } @log;
is(scalar @jwt, 0, 'no JWT in the error log') or diag(join '', @jwt[0 .. ($#jwt < 4 ? $#jwt : 4)]);

# nothing that looks like an authorization code handed out by the mock
my @codes = grep { /\b1\.A[A-Za-z0-9_-]{40,}/ } @log;
is(scalar @codes, 0, 'no authorization or refresh code in the error log') or diag(join '', @codes[0 .. ($#codes < 4 ? $#codes : 4)]);

# every module line carries its ENTRAnnnnn id (warn and worse at least)
my @noid = grep { /\[auth_entra:(?:emerg|alert|crit|error|warn)\]/ && !/ENTRA[0-9]{5}:/ } @log;
is(scalar @noid, 0, 'every module warn/error line has an ENTRAnnnnn: id') or diag(join '', @noid[0 .. ($#noid < 4 ? $#noid : 4)]);

done_testing();
