#!/bin/sh
# install.sh: set up realize on this machine. Idempotent: run it again at any time.
#
#   ./install.sh              from a checkout
#   ./install.sh --systemd    also install the systemd units
#   ./install.sh --dev        also install the Debian tools the test suite uses
#   curl -fsSL <url>/install.sh | sh      clones $REALIZE_REPO into $REALIZE_HOME first
#   REALIZE_BIN_DIR=DIR ./install.sh      put the launcher in DIR instead
#
# What it does, skipping whatever is already in place:
#   1. Debian packages fuse3 and libfuse3-3 (apt-get, as root; a clear message otherwise)
#   2. Deno at the version pinned in .deno-version, from the npm package "deno", into
#      .tools/deno of the checkout (unless that exact version is already on PATH)
#   3. npm dependencies, cached into node_modules/ of the checkout (deno install --frozen)
#   4. a `realize` launcher (and `deno`, when none is on PATH) in /usr/local/bin as root,
#      ~/.local/bin otherwise
# Only files are copied here; all logic lives in `realize` itself.
set -eu

say() { printf 'install.sh: %s\n' "$*" >&2; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

systemd=0
dev=0
for arg in "$@"; do
  case "$arg" in
    --systemd) systemd=1 ;;
    --dev) dev=1 ;;
    -h|--help) sed -n '2,19p' "$0" 2>/dev/null | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $arg (try --help)" ;;
  esac
done

# --- 0. Find the checkout, or clone one when piped from curl -------------------------
root=""
case "$0" in
  */install.sh|install.sh)
    dir=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
    [ -f "$dir/deno.json" ] && [ -f "$dir/main.ts" ] && root=$dir ;;
esac
if [ -z "$root" ]; then
  repo=${REALIZE_REPO:-https://github.com/realize-sync/realize-deno.git}
  if [ "$(id -u)" = 0 ]; then home_default=/opt/realize; else home_default=$HOME/.local/share/realize; fi
  root=${REALIZE_HOME:-$home_default}
  command -v git >/dev/null 2>&1 || die "git is needed to fetch realize from $repo"
  if [ -d "$root/.git" ]; then
    say "updating $root from $repo"
    git -C "$root" pull --ff-only --quiet
  else
    say "cloning $repo into $root"
    git clone --quiet "$repo" "$root"
  fi
  exec sh "$root/install.sh" "$@"
fi
cd "$root"
pinned=$(cat .deno-version)

if [ "$(id -u)" = 0 ]; then bindir=/usr/local/bin; else bindir=$HOME/.local/bin; fi
bindir=${REALIZE_BIN_DIR:-$bindir}

# --- 1. Debian packages ----------------------------------------------------------------
packages="fuse3 libfuse3-3"
[ "$dev" = 1 ] && packages="$packages attr b3sum rsync rdiff capnproto libfuse3-dev"
missing=""
for p in $packages; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || die "apt-get update failed"
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    apt-get install -y -qq --no-install-recommends $missing >/dev/null \
      || die "apt-get install$missing failed"
  else
    say "warning: missing Debian packages:$missing"
    say "  realize needs them for its FUSE filesystem; as root run: apt-get install$missing"
  fi
fi

# --- 2. Deno, pinned -------------------------------------------------------------------
deno_version() { "$1" --version 2>/dev/null | sed -n 's/^deno \([0-9.]*\).*/\1/p'; }

tools="$root/.tools/deno"
deno=""
if command -v deno >/dev/null 2>&1 && [ "$(deno_version deno)" = "$pinned" ]; then
  deno=$(command -v deno)
elif [ -x "$tools/bin/deno" ] && [ "$(deno_version "$tools/bin/deno")" = "$pinned" ]; then
  deno="$tools/bin/deno"
else
  say "installing Deno $pinned from the npm package \"deno\" into $tools"
  rm -rf "$tools" && mkdir -p "$tools/bin"
  if command -v npm >/dev/null 2>&1; then
    npm install --silent --no-audit --no-fund --no-save --prefix "$tools/npm" "deno@$pinned" \
      || die "npm install deno@$pinned failed"
    for candidate in "$tools"/npm/node_modules/@deno/*/deno "$tools/npm/node_modules/deno/deno"; do
      [ -x "$candidate" ] && { ln -sf "$candidate" "$tools/bin/deno"; break; }
    done
  else
    # No npm: fetch the platform package of the npm "deno" package directly.
    case "$(uname -m)" in
      x86_64) pkg=linux-x64-glibc
        sha512=de67784ca2c2bb3b0b0e67cea02e4a37b34065ac525643209bae2f83a7e80f4d090400c2a584b6ff942a5dfce09cfe59433de22cff6f05026d120735d7a380a1 ;;
      *) die "no npm and no pinned Deno download for $(uname -m): install npm and re-run" ;;
    esac
    url="https://registry.npmjs.org/@deno/$pkg/-/$pkg-$pinned.tgz"
    if command -v curl >/dev/null 2>&1; then curl -fsSL -o "$tools/deno.tgz" "$url"
    else wget -q -O "$tools/deno.tgz" "$url"; fi || die "cannot download $url"
    got=$(sha512sum "$tools/deno.tgz" | cut -d' ' -f1)
    [ "$got" = "$sha512" ] || die "checksum mismatch for $url"
    tar -xzf "$tools/deno.tgz" -C "$tools" package/deno && mv "$tools/package/deno" "$tools/bin/deno"
    rm -rf "$tools/package" "$tools/deno.tgz"
  fi
  [ -x "$tools/bin/deno" ] || die "Deno binary not found after install"
  deno="$tools/bin/deno"
  [ "$(deno_version "$deno")" = "$pinned" ] || die "$deno is not Deno $pinned"
fi

# --- 3. Dependencies ---------------------------------------------------------------------
DENO_NO_UPDATE_CHECK=1 "$deno" install --frozen --quiet --entrypoint main.ts \
  || die "caching dependencies failed (deno install --frozen)"

# --- 4. Launcher ---------------------------------------------------------------------------
mkdir -p "$bindir"
launcher="$bindir/realize"
tmp="$launcher.tmp.$$"
cat >"$tmp" <<EOF
#!/bin/sh
# realize launcher written by $root/install.sh: runs that checkout with its pinned Deno.
# --allow-all: the daemon uses FFI (FUSE, mount, xattrs), which bypasses Deno's sandbox anyway.
DENO_NO_UPDATE_CHECK=1 exec "$deno" run --allow-all --no-prompt --cached-only --frozen \\
  --config "$root/deno.json" "$root/main.ts" "\$@"
EOF
chmod 755 "$tmp" && mv -f "$tmp" "$launcher"
if ! command -v deno >/dev/null 2>&1; then ln -sf "$deno" "$bindir/deno"; fi

# --- 5. systemd units (optional) -----------------------------------------------------------
if [ "$systemd" = 1 ]; then
  [ "$(id -u)" = 0 ] || die "--systemd needs root"
  for unit in realize.service realize-overlay.service; do
    sed "s#/usr/local/bin/realize#$launcher#" "systemd/$unit" >"/etc/systemd/system/$unit"
  done
  if [ -d /run/systemd/system ]; then systemctl daemon-reload
  else say "systemd is not running here: units installed, not reloaded"; fi
  say "units: realize.service, realize-overlay.service in /etc/systemd/system (config: /etc/realize/config.toml)"
fi

case ":$PATH:" in
  *":$bindir:"*) ;;
  *) say "note: $bindir is not on your PATH; add it, e.g. export PATH=\"$bindir:\$PATH\"" ;;
esac
say "ready: $launcher (Deno $pinned at $deno). Try: realize demo"
