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
use strict;
# The command path uses perl's own select and open instead of IO::Select
# and POSIX (see helper_files.pl on what modules cost a login). WNOHANG is
# 1 on Linux, whatever the architecture.
sub WNOHANG () { 1 }
# setsid(2) by number where we know it: Linux's syscall tables for the
# architecture perl runs as, read from its ELF header (class, machine);
# elsewhere POSIX::setsid. x86_64 112; i386 and ARM EABI 66; aarch64 and
# riscv64 157 (asm-generic).
our $EXE //= '/proc/self/exe';
my %SETSID_NR = ('2/62' => 112, '1/3' => 66, '1/40' => 66, '2/183' => 157, '2/243' => 157);
my $setsid_nr;
sub setsid_nr {
  return $setsid_nr if defined $setsid_nr;
  my $h = '';
  if (open(my $fh, '<', $EXE)) { binmode $fh; read($fh, $h, 20); }
  # Little-endian ELF only: the table has no big-endian architecture.
  $setsid_nr = (length($h) == 20 && substr($h, 0, 4) eq "\x7fELF" && ord(substr($h, 5, 1)) == 1
    ? $SETSID_NR{ord(substr($h, 4, 1)) . '/' . unpack('v', substr($h, 18, 2))} : undef) // 0;
  require POSIX unless $setsid_nr;
  $setsid_nr;
}
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
  my $nr = setsid_nr();
  pipe(my $ir, my $iw) or die; pipe(my $or, my $ow) or die; pipe(my $er, my $ew) or die;
  my $pid = fork();
  if (!defined $pid) { wr(pack('l>', 127) . pack('N', 0) . pack('N', length("fork: $!")) . "fork: $!"); next; }
  if ($pid == 0) {
    close $iw; close $or; close $er;
    if ($nr) { syscall($nr); } else { POSIX::setsid(); }
    $SIG{PIPE} = 'DEFAULT';
    # Reopening a standard handle keeps its descriptor (dup2): the
    # command finds the pipes on 0, 1 and 2; the rest close on exec.
    open(STDIN, '<&', $ir) && open(STDOUT, '>&', $ow) && open(STDERR, '>&', $ew) or exit 127;
    if (length $cwd) { chdir $cwd or do { print STDERR "cannot chdir to $cwd: $!\n"; exit 1; }; }
    for my $kv (split /\0/, $env) { my ($k, $v) = split /=/, $kv, 2; $ENV{$k} = $v if defined $k && length $k; }
    if ($mode eq 'sh') { exec '/bin/sh', '-c', $argv[0]; } else { exec { $argv[0] } @argv; }
    print STDERR "cannot run $argv[0]: $!\n"; exit 127;
  }
  close $ir; close $ow; close $ew;
  my ($out, $err) = ('', '');
  # Descriptor -> [handle, where its bytes go], while it is open.
  my %reading = (fileno($or) => [$or, \$out], fileno($er) => [$er, \$err]);
  my ($writing, $watch_stdin) = (length($in) > 0, 1);
  close $iw unless $writing;
  my $status;
  while (!defined $status) {
    if (!%reading && !$writing) {
      # All output read: wait for the exit, still watching stdin.
      $status = $? if waitpid($pid, WNOHANG) == $pid;
      last if defined $status;
    }
    my ($rin, $win) = ('', '');
    vec($rin, $_, 1) = 1 for keys %reading;
    vec($rin, 0, 1) = 1 if $watch_stdin;
    vec($win, fileno($iw), 1) = 1 if $writing;
    my $n = select(my $rout = $rin, my $wout = $win, undef, (%reading || $writing) ? undef : 0.1);
    next if $n <= 0;
    if ($watch_stdin && vec($rout, 0, 1)) { my $r = sysread(STDIN, $pending, 65536, length $pending); if (!$r) { stop_group($pid); } $watch_stdin = 0; }
    if ($writing && vec($wout, fileno($iw), 1)) { my $w = syswrite($iw, $in, 65536); if (!defined $w || $w == length $in) { $writing = 0; close $iw; $in = ''; } else { substr($in, 0, $w) = ''; } }
    for my $fd (grep { vec($rout, $_, 1) } keys %reading) { my $buf; my $r = sysread($reading{$fd}[0], $buf, 65536); if (!$r) { close $reading{$fd}[0]; delete $reading{$fd}; } else { ${$reading{$fd}[1]} .= $buf; } }
  }
  $? = $status;
  my $rc = $? & 127 ? 128 + ($? & 127) : $? >> 8;
  wr(pack('l>', $rc) . pack('N', length $out) . $out . pack('N', length $err) . $err);
}
