# Sourced: fetches Debian packages from suites this machine does not use (bookworm-backports,
# trixie) into a directory of ours without installing anything system-wide — a private
# sources list and apt state, `apt-get download`, `dpkg -x`.
#   debian_fetch_init <cache-dir> <suite…>       (once; runs apt-get update)
#   debian_fetch_extract <target-dir> <package…>  (downloads and unpacks into target-dir)

debian_fetch_init() {
  _df_cache=$1
  shift
  mkdir -p "$_df_cache/apt/lists/partial" "$_df_cache/apt/archives/partial" "$_df_cache/debs"
  local mirror
  mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
  mirror=${mirror:-http://deb.debian.org/debian}
  : > "$_df_cache/apt/sources.list"
  for suite in "$@"; do
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >> "$_df_cache/apt/sources.list"
  done
  _df_opts=(-o APT::Sandbox::User=root -o Dir::Etc::SourceList="$_df_cache/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o Dir::State::Lists="$_df_cache/apt/lists" -o Dir::Cache="$_df_cache/apt" -o Debug::NoLocking=1)
  echo "fetching from $mirror ($*)" >&2
  apt-get "${_df_opts[@]}" update -qq
}

# Unpacks into <target-dir>.tmp and renames it into place: a half-done fetch is never taken
# for a finished one.
debian_fetch_extract() {
  local target=$1
  shift
  rm -rf "$_df_cache/debs"/*.deb "$target.tmp" && mkdir -p "$target.tmp"
  (cd "$_df_cache/debs" && apt-get "${_df_opts[@]}" download -qq "$@")
  for deb in "$_df_cache"/debs/*.deb; do dpkg -x "$deb" "$target.tmp"; done
  rm -rf "$target" && mv "$target.tmp" "$target"
  rm -f "$_df_cache"/debs/*.deb
}
