# mailplay's remote helper: started once per host and become-user over the
# SSH master connection, it runs framed requests read from stdin and
# answers on stdout, so a task costs one round trip instead of a new SSH
# channel and process. Only perl-base modules (always on Debian).
# helper_files.pl comes first in the same script: the file operations.
#
# Request: u32 field count, then per field u32 length + bytes; the first
# field names the operation:
#   [("sh"|"exec"), cwd, env ("K=V\0..."), stdin, argv...]  a command
#   [stat|statread|read|write|realpath|digest|mkdir|attrs, ...]  helper_files.pl,
#     no process
# Reply: i32 exit code, u32 length + stdout, u32 length + stderr.
# Lengths are bounded (framing.rs has the same limits and never sends
# more): a request beyond them ends the helper with a message, since the
# stream cannot be trusted after it.
# A request runs only once it has fully arrived: a connection that drops
# mid-request runs nothing. Each command runs in its own session and
# process group; if stdin closes while it runs (mailplay gave up on it: a
# task timeout, a lost connection, an abandoned run) the whole group is
# ended (TERM, then KILL) and the helper exits.
use strict; use warnings;
# POSIX and IO::Select are loaded when a command first runs (see
# helper_files.pl): a login that only probes and writes files skips them.
# WNOHANG is 1 on Linux, whatever the architecture.
sub WNOHANG () { 1 }
binmode STDIN; binmode STDOUT; $| = 1; $SIG{PIPE} = 'IGNORE';
# Keep in step with framing.rs MAX_FIELDS and MAX_REQUEST.
my ($MAX_FIELDS, $MAX_REQUEST) = (65536, 256 << 20);
my $pending = '';
sub rd { my $n = shift; my $b = $pending; $pending = ''; while (length($b) < $n) { my $r = sysread(STDIN, $b, $n - length($b), length($b)); exit 0 unless $r; } $pending = substr($b, $n); substr($b, 0, $n) }
sub stop_group { my $pid = shift; kill 'TERM', -$pid; for (1 .. 30) { waitpid($pid, WNOHANG); last unless kill 0, -$pid; select(undef, undef, undef, 0.1); } kill 'KILL', -$pid; waitpid($pid, 0); exit 0; }
sub wr { my $d = shift; while (length $d) { my $w = syswrite(STDOUT, $d); exit 1 unless defined $w; substr($d, 0, $w) = ''; } }
while (1) {
  my $count = unpack('N', rd(4));
  die "mailplay helper: a request of $count fields, not 1 to $MAX_FIELDS\n" if $count < 1 || $count > $MAX_FIELDS;
  my ($total, @f) = (0);
  for (1 .. $count) {
    my $len = unpack('N', rd(4)); $total += $len;
    die "mailplay helper: a request of more than $MAX_REQUEST bytes\n" if $total > $MAX_REQUEST;
    push @f, ($len ? rd($len) : '');
  }
  if (my $op = $main::NATIVE{$f[0]}) {
    my @r = eval { $op->(@f[1 .. $#f]) };
    @r = (1, '', "mailplay helper: $f[0]: $@") unless @r;
    wr(pack('l>', $r[0]) . pack('N', length $r[1]) . $r[1] . pack('N', length $r[2]) . $r[2]);
    next;
  }
  my ($mode, $cwd, $env, $in, @argv) = @f;
  if ($mode ne 'sh' && $mode ne 'exec') { my $e = "mailplay helper: unknown request $mode"; wr(pack('l>', 127) . pack('N', 0) . pack('N', length $e) . $e); next; }
  require POSIX; require IO::Select;
  pipe(my $ir, my $iw) or die; pipe(my $or, my $ow) or die; pipe(my $er, my $ew) or die;
  my $pid = fork();
  if (!defined $pid) { wr(pack('l>', 127) . pack('N', 0) . pack('N', length("fork: $!")) . "fork: $!"); next; }
  if ($pid == 0) {
    close $iw; close $or; close $er; POSIX::setsid(); $SIG{PIPE} = 'DEFAULT';
    POSIX::dup2(fileno($ir), 0); POSIX::dup2(fileno($ow), 1); POSIX::dup2(fileno($ew), 2);
    if (length $cwd) { chdir $cwd or do { print STDERR "cannot chdir to $cwd: $!\n"; POSIX::_exit(1); }; }
    for my $kv (split /\0/, $env) { my ($k, $v) = split /=/, $kv, 2; $ENV{$k} = $v if defined $k && length $k; }
    if ($mode eq 'sh') { exec '/bin/sh', '-c', $argv[0]; } else { exec { $argv[0] } @argv; }
    print STDERR "cannot run $argv[0]: $!\n"; POSIX::_exit(127);
  }
  close $ir; close $ow; close $ew;
  my ($out, $err) = ('', '');
  my $sel_r = IO::Select->new($or, $er); my $sel_w = IO::Select->new(); my $sel_in = IO::Select->new(\*STDIN);
  if (length $in) { $sel_w->add($iw); } else { close $iw; }
  my $status;
  while (!defined $status) {
    if (!$sel_r->count && !$sel_w->count) {
      # All output read: wait for the exit, still watching stdin.
      $status = $? if waitpid($pid, WNOHANG) == $pid;
      last if defined $status;
    }
    my $watch = IO::Select->new($sel_r->handles, $sel_in->handles);
    my ($r, $w) = IO::Select->select($watch, $sel_w, undef, ($sel_r->count || $sel_w->count) ? undef : 0.1);
    if ($sel_in->count && grep { $_ == \*STDIN } @{$r || []}) { my $n = sysread(STDIN, $pending, 65536, length $pending); if (!$n) { stop_group($pid); } $sel_in->remove(\*STDIN); $r = [grep { $_ != \*STDIN } @$r]; }
    for my $fh (@{$w || []}) { my $n = syswrite($fh, $in, 65536); if (!defined $n || $n == length $in) { $sel_w->remove($fh); close $fh; $in = ''; } else { substr($in, 0, $n) = ''; } }
    for my $fh (@{$r || []}) { my $buf; my $n = sysread($fh, $buf, 65536); if (!$n) { $sel_r->remove($fh); close $fh; } elsif ($fh == $or) { $out .= $buf; } else { $err .= $buf; } }
  }
  $? = $status;
  my $rc = $? & 127 ? 128 + ($? & 127) : $? >> 8;
  wr(pack('l>', $rc) . pack('N', length $out) . $out . pack('N', length $err) . $err);
}
