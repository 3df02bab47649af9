#!/bin/sh
# The layer shared by the online and the offline sandbox image. Runs as root at build time, from
# /opt/assistantd/runtime (already copied in). Needs only POSIX sh, coreutils, find and python3.
set -eu

# A dedicated, non-root user (not shared with the host); no useradd needed (minimal rootfs).
grep -q '^sandbox:' /etc/group || echo 'sandbox:x:10001:' >> /etc/group
grep -q '^sandbox:' /etc/passwd || echo 'sandbox:x:10001:10001:sandbox:/tmp:/usr/sbin/nologin' >> /etc/passwd

rm -rf /opt/assistantd/runtime/__pycache__  # host-compiled leftovers of a source checkout
mkdir -p /mnt/data /opt/assistantd/mpl
chown 10001:10001 /mnt/data
chmod 0755 /opt/assistantd /opt/assistantd/runtime
chmod 0644 /opt/assistantd/runtime/*.py

# Warm matplotlib's font cache into a baked dir; the supervisor copies it to /tmp at start.
MPLCONFIGDIR=/opt/assistantd/mpl MPLBACKEND=Agg python3 -c '
import matplotlib.pyplot as plt
fig = plt.figure(); plt.plot([0, 1]); plt.title("warm"); fig.savefig("/dev/null", format="png")
'
chmod -R a+rX /opt/assistantd/mpl

# The root filesystem is read-only at run time: compile every .pyc now.
python3 - <<'PY'
import compileall, os, sys
for path in sys.path + ["/opt/assistantd/runtime"]:
    if os.path.isdir(path) and not path.endswith(".zip"):
        compileall.compile_dir(path, quiet=2, workers=0)
PY

# No privilege gain from setuid/setgid binaries (belt and braces with no-new-privileges).
find / -xdev -type f -perm /6000 -exec chmod ug-s {} + 2>/dev/null || true
rm -rf /var/cache/apt/* /var/lib/apt/lists/* /root/.cache 2>/dev/null || true
