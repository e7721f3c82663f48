#!/usr/bin/env bash
# Installs everything nodefit's integration tests run against (see e2e/src/testbed.rs):
#   - Debian bookworm packages: docker-registry (distribution 2.8), htpasswd, skopeo, umoci, Go, curl;
#   - oras and cosign 2.5 from Debian trixie, unpacked into $TESTBED_DIR/bin (bookworm has neither);
#   - cosign 3.x (as $TESTBED_DIR/bin/cosign3, beside trixie's cosign 2.5 for the classic `.sig`
#     tests) and notation from Debian sid, unpacked the same way;
#   - ggcr-registry: go-containerregistry's in-memory registry with the referrers API, built from
#     trixie's Go source package plus ggcr-referrers.patch, into $TESTBED_DIR/bin;
#   - nfd-decode: the differential tests' reference (e2e/differential/nfd-decode.go), built with
#     Go 1.25 from trixie-backports (the toolchain NFD is built with: its regexp and Unicode tables
#     are part of NFD's behaviour) against bookworm's packaged NFD dependencies.
# Runs as root on a fresh Debian bookworm; safe to re-run, and a second run only checks stamps.
# Nothing from outside Debian's archive is downloaded, and the system's apt sources are not touched:
# trixie and trixie-backports are reached through a private source list under $TESTBED_DIR/apt,
# sid through another under $TESTBED_DIR/apt-sid (one list for both would make sid's versions the
# candidates for every package, cosign 3 instead of trixie's 2.5 among them).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
TESTBED_DIR=${TESTBED_DIR:-target/testbed}
# Relative to the workspace root, as in e2e/src/testbed.rs, whatever the current directory.
[[ $TESTBED_DIR == /* ]] || TESTBED_DIR=$repo/$TESTBED_DIR
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
bin=$TESTBED_DIR/bin
debs=$TESTBED_DIR/debs
mkdir -p "$bin" "$debs"

log() { printf '[testbed] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

sudo_if_needed=()
if [[ $(id -u) != 0 ]]; then
	command -v sudo >/dev/null || die "not root and no sudo: run this script as root"
	sudo_if_needed=(sudo)
fi

# --- 1. Debian bookworm packages -------------------------------------------------------------
# The golang-*-dev packages are the Go libraries NFD decodes specs with (sigs.k8s.io/yaml, go-yaml
# v2, Masterminds semver), for the differential tests' reference decoder.
system_pkgs=(docker-registry apache2-utils skopeo umoci golang-go patch ca-certificates curl
	golang-k8s-sigs-yaml-dev golang-gopkg-yaml.v2-dev golang-github-masterminds-semver-dev)
missing=()
for p in "${system_pkgs[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -qx 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo_if_needed[@]}" apt-get update -q
	# golang-go recommends a C toolchain; ggcr-registry is built with CGO_ENABLED=0 and needs none.
	"${sudo_if_needed[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# --- 2. Packages from trixie and sid through private apt source lists ----------------------
# $1 is the suite set: `trixie` (with trixie-backports) or `sid`.
apt_opts() {
	local dir=$TESTBED_DIR/apt
	[[ $1 == trixie ]] || dir=$TESTBED_DIR/apt-$1
	apt_dir=$dir
	apt_opts=(
		-o "Dir::Etc::SourceList=$dir/sources.list"
		-o "Dir::Etc::SourceParts=/dev/null"
		-o "Dir::Etc::Preferences=/dev/null"
		-o "Dir::Etc::PreferencesParts=/dev/null"
		-o "Dir::State::Lists=$dir/lists"
		-o "Dir::Cache=$dir/cache"
		# The system's appstream hook would fetch 5 MB of DEP-11 metadata we never read.
		-o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
		# apt-get download as root otherwise warns that _apt cannot write to the target directory.
		-o "APT::Sandbox::User=root"
	)
}
declare -A lists_ready=()
private_lists() {
	local suite=$1
	[[ -z ${lists_ready[$suite]:-} ]] || return 0
	apt_opts "$suite"
	mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
	if [[ $suite == trixie ]]; then
		# Backports are pinned below trixie by their Release file, so they only supply what
		# trixie lacks (golang-1.25).
		printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
			"$DEBIAN_MIRROR" trixie "$DEBIAN_MIRROR" trixie-backports >"$apt_dir/sources.list"
	else
		printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
			"$DEBIAN_MIRROR" "$suite" >"$apt_dir/sources.list"
	fi
	log "updating the private $suite package lists"
	apt-get "${apt_opts[@]}" update -q >"$apt_dir/update.log" 2>&1 ||
		{ cat "$apt_dir/update.log" >&2; die "apt-get update of the private $suite source list failed"; }
	lists_ready[$suite]=1
}

# Sets $deb to package $1 from suite $3 (default trixie), downloading it into $debs (sid's into
# $debs/sid) unless a copy is already there (delete it to pick up a newer version). $2 is an
# extended regex the version must match: the tests rely on the behaviour of these versions.
fetch_deb() {
	local pkg=$1 want=$2 suite=${3:-trixie} dir=$debs version arch cached
	[[ $suite == trixie ]] || dir=$debs/$suite
	mkdir -p "$dir"
	cached=$(find "$dir" -maxdepth 1 -name "${pkg}_*.deb" | sort | tail -n1)
	if [[ -n $cached ]]; then
		deb=$cached
		version=$(basename "$deb" | sed -E 's/^[^_]+_([^_]+)_.*/\1/; s/%3a/:/')
	else
		private_lists "$suite"
		apt_opts "$suite"
		version=$(apt-cache "${apt_opts[@]}" show --no-all-versions "$pkg" 2>/dev/null | sed -n 's/^Version: //p')
		arch=$(apt-cache "${apt_opts[@]}" show --no-all-versions "$pkg" 2>/dev/null | sed -n 's/^Architecture: //p')
		[[ -n $version ]] || die "$pkg not found in $suite"
		# apt-get download names files with the epoch's colon escaped.
		deb=$dir/${pkg}_${version//:/%3a}_$arch.deb
		(cd "$dir" && apt-get "${apt_opts[@]}" -q download "$pkg" >/dev/null)
		[[ -f $deb ]] || die "apt-get download $pkg did not produce $deb"
	fi
	[[ $version =~ $want ]] ||
		die "$pkg $version does not match $want: check the tests still hold, then update setup.sh"
}

# Installs usr/bin/$1 from package $1 of suite $3 (default trixie) into $bin as $4 (default $1)
# unless the stamp says it is there.
install_cli() {
	local pkg=$1 want=$2 suite=${3:-trixie} name=${4:-$1} stamp tmp
	stamp=$bin/.$name.deb
	[[ -x $bin/$name && -f $stamp ]] && return 0
	fetch_deb "$pkg" "$want" "$suite"
	tmp=$(mktemp -d "$TESTBED_DIR/.unpack.XXXXXX")
	dpkg-deb -x "$deb" "$tmp"
	install -m 0755 "$tmp/usr/bin/$pkg" "$bin/$name"
	rm -rf "$tmp"
	basename "$deb" >"$stamp"
	log "installed $(basename "$deb") -> $bin/$name"
}

install_cli oras '^1\.[23]\.'
install_cli cosign '^2\.5\.'
# Sigstore bundles as referrers (cosign 3) and the Notary Project (notation 1.x): sid only. Newer
# patch and minor versions are accepted; a new major version stops here to be checked first.
install_cli cosign '^3\.' sid cosign3
install_cli notation '^1\.' sid

# --- 3. The referrers-capable registry --------------------------------------------------------
ggcr_pkg=golang-github-google-go-containerregistry-dev
ggcr_stamp=$bin/.ggcr-registry.stamp
# Rebuild whenever the patch, main.go, this script (the build recipe) or the Go toolchain changes.
ggcr_key=$(cat "$here/ggcr-referrers.patch" "$here/ggcr-registry/main.go" "$here/setup.sh" |
	sha256sum | cut -c1-16)-$(go env GOVERSION)
if [[ ! -x $bin/ggcr-registry || ! -f $ggcr_stamp || $(<"$ggcr_stamp") != *"$ggcr_key"* ]]; then
	fetch_deb "$ggcr_pkg" '^0\.20\.'
	src=$TESTBED_DIR/ggcr-src
	rm -rf "$src"
	dpkg-deb -x "$deb" "$src"
	gopath=$src/usr/share/gocode
	patch -s -p1 -d "$gopath/src/github.com/google/go-containerregistry" <"$here/ggcr-referrers.patch"
	log "building ggcr-registry"
	# GOPATH mode against the unpacked Debian source: no module download is possible or wanted.
	# Without cgo, Go 1.19 needs no C compiler (it does not fall back by itself before 1.20).
	(cd "$here/ggcr-registry" &&
		GO111MODULE=off GOPATH=$gopath GOCACHE=$TESTBED_DIR/go-cache GOPROXY=off GOFLAGS='' CGO_ENABLED=0 \
			go build -o "$bin/ggcr-registry.tmp" main.go)
	mv "$bin/ggcr-registry.tmp" "$bin/ggcr-registry"
	echo "$(basename "$deb") $ggcr_key" >"$ggcr_stamp"
fi

# --- 4. nfd-decode: the differential tests' reference, from Debian's Go libraries ----------------
decode_src=$here/../differential/nfd-decode.go
decode_stamp=$bin/.nfd-decode.stamp
decode_key=$(cat "$decode_src" "$here/setup.sh" | sha256sum | cut -c1-16)
if [[ ! -x $bin/nfd-decode || ! -f $decode_stamp || $(<"$decode_stamp") != "$decode_key" ]]; then
	go_root=$TESTBED_DIR/go-1.25
	if [[ ! -x $go_root/usr/lib/go-1.25/bin/go ]]; then
		rm -rf "$go_root"
		for pkg in golang-1.25-go golang-1.25-src; do
			fetch_deb "$pkg" '^1\.25\.'
			dpkg-deb -x "$deb" "$go_root"
		done
	fi
	log "building nfd-decode with $("$go_root/usr/lib/go-1.25/bin/go" version | cut -d' ' -f3)"
	GOROOT=$go_root/usr/lib/go-1.25 GOTOOLCHAIN=local GO111MODULE=off GOPATH=/usr/share/gocode \
		GOCACHE=$TESTBED_DIR/go-cache GOPROXY=off GOFLAGS='' CGO_ENABLED=0 \
		"$go_root/usr/lib/go-1.25/bin/go" build -o "$bin/nfd-decode.tmp" "$decode_src"
	mv "$bin/nfd-decode.tmp" "$bin/nfd-decode"
	echo "$decode_key" >"$decode_stamp"
fi

# --- Summary -----------------------------------------------------------------------------------
deb_version() { sed -E 's/^[^_]+_([^_]+)_.*/\1/' "$1"; }
oras_v=$("$bin/oras" version | sed -n 's/^Version: *//p')
# Debian builds cosign without version ldflags, so `cosign version` says "devel": show the package too.
cosign_v=$("$bin/cosign" version 2>&1 | sed -n 's/^GitVersion: *//p')
registry_v=$(docker-registry --version | awk '{print $3}')
cosign3_v=$("$bin/cosign3" version 2>&1 | sed -n 's/^GitVersion: *//p')
notation_v=$("$bin/notation" version 2>&1 | sed -n 's/^Version: *//p')
echo "testbed ready in $TESTBED_DIR: oras $oras_v, cosign $cosign_v (deb $(deb_version "$bin/.cosign.deb")), cosign3 $cosign3_v (deb $(deb_version "$bin/.cosign3.deb")), notation $notation_v (deb $(deb_version "$bin/.notation.deb")), docker-registry $registry_v, ggcr-registry $bin/ggcr-registry (go-containerregistry $(deb_version "$ggcr_stamp"))"
