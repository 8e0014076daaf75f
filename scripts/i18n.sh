#!/usr/bin/env bash
# Message catalogs in locale/: `update` extracts and compiles them, `check` proves they are current.
#
#   scripts/i18n.sh update   makemessages for zh_Hans and en, then compilemessages (needs gettext)
#   scripts/i18n.sh check    fails when a string of the code is missing from a catalog, a zh_Hans
#                            string is untranslated or fuzzy, a .po does not compile, or a committed
#                            .mo differs from its .po
# Both use the same extraction options, so `check` accepts exactly what `update` writes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY="${PY:-$ROOT/.venv/bin/python}"
LANGS=(zh_Hans en)
# Source strings are English; en needs no translation, zh_Hans must be complete.
STRICT_LANGS=(zh_Hans)
MAKEMESSAGES_OPTS=(--add-location=file --no-obsolete
  --ignore=.venv --ignore=tests --ignore=bench --ignore=scripts --ignore=docs --ignore=var
  --ignore=test-artifacts --ignore=staticfiles --ignore=media --ignore=node_modules)

makemessages() {  # in the current directory
  local args=()
  for lang in "${LANGS[@]}"; do args+=(-l "$lang"); done
  "$PY" manage.py makemessages "${args[@]}" "${MAKEMESSAGES_OPTS[@]}" "$@" >/dev/null
}

case "${1:-}" in
  update)
    makemessages
    # msgmerge guesses translations for new strings from similar old ones ("Agent login" -> "客服")
    # and marks them fuzzy; a wrong guess is worse than none, so they become untranslated again.
    for po in locale/*/LC_MESSAGES/django.po; do
      msgattrib --clear-fuzzy --empty --clear-previous -o "$po" "$po"
    done
    "$PY" manage.py compilemessages --ignore=.venv --ignore=node_modules --ignore=staticfiles
    ;;
  check)
    command -v msgfmt >/dev/null || { echo "gettext is not installed (apt-get install gettext)"; exit 1; }
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    failed=0
    for po in locale/*/LC_MESSAGES/*.po; do
      [ -e "$po" ] || { echo "no catalogs under locale/; run: make messages"; exit 1; }
      mo="${po%.po}.mo"
      if ! msgfmt --check -o "$tmp/fresh.mo" "$po"; then
        echo "$po does not compile"; failed=1; continue
      fi
      if [ ! -f "$mo" ] || ! cmp -s <(msgunfmt "$mo") <(msgunfmt "$tmp/fresh.mo"); then
        echo "$mo is missing or older than $po; run: make messages"; failed=1
      fi
    done
    # Extract from a copy of the tree, so the check never rewrites the working catalogs.
    mkdir "$tmp/tree"
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
      git ls-files -z --cached --others --exclude-standard \
        | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$tmp/tree"
    else
      tar --exclude=./.venv -cf - . | tar -xf - -C "$tmp/tree"
    fi
    (cd "$tmp/tree" && GOFLY_VAR_DIR="$tmp/var" makemessages --keep-pot)
    pot="$tmp/tree/locale/django.pot"
    strict=" ${STRICT_LANGS[*]} "
    "$PY" - "$pot" "$strict" "${LANGS[@]}" <<'PYEOF' || failed=1
"""Compare each catalog with the strings the code has now (the fresh .pot)."""
import ast
import sys


def entries(path):
    """{(msgctxt, msgid): (translated, fuzzy)} of a .po/.pot file, obsolete entries left out."""
    result, cur, key, fuzzy = {}, {}, None, False

    def flush():
        nonlocal cur, fuzzy
        if "msgid" in cur and cur["msgid"]:
            strs = [v for k, v in cur.items() if k.startswith("msgstr")]
            result[(cur.get("msgctxt"), cur["msgid"])] = (bool(strs) and all(strs), fuzzy)
        cur, fuzzy = {}, False

    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line.startswith("#,") and "fuzzy" in line:
            if "msgid" in cur:
                flush()
            fuzzy = True
        elif line.startswith("#") or not line:
            if "msgstr" in cur or any(k.startswith("msgstr[") for k in cur):
                flush()
        elif line.startswith('"'):
            cur[key] += ast.literal_eval(line)
        else:
            key, _, value = line.partition(" ")
            if key in ("msgctxt", "msgid") and any(k.startswith("msgstr") for k in cur):
                flush()
            cur[key] = ast.literal_eval(value)
    flush()
    return result


pot, strict, langs = sys.argv[1], sys.argv[2], sys.argv[3:]
wanted = entries(pot)
failed = False
for lang in langs:
    path = f"locale/{lang}/LC_MESSAGES/django.po"
    try:
        have = entries(path)
    except FileNotFoundError:
        print(f"{path} is missing; run: make messages")
        failed = True
        continue
    missing = [k for k in wanted if k not in have]
    untranslated = [k for k in wanted if k in have and f" {lang} " in strict and (not have[k][0] or have[k][1])]
    if missing or untranslated:
        failed = True
        print(f"{path}: {len(missing)} strings of the code missing, {len(untranslated)} untranslated or fuzzy")
        for label, keys in (("missing", missing), ("untranslated", untranslated)):
            for ctxt, msgid in keys[:15]:
                print(f"  {label}: {msgid[:100]!r}" + (f" (context {ctxt!r})" if ctxt else ""))
            if len(keys) > 15:
                print(f"  ... and {len(keys) - 15} more {label}")
if failed:
    print("fix: make messages; translate the empty msgstr in locale/zh_Hans/LC_MESSAGES/django.po; make messages")
sys.exit(1 if failed else 0)
PYEOF
    [ "$failed" = 0 ] && echo "translations: catalogs current, zh_Hans complete, .mo files up to date"
    exit "$failed"
    ;;
  *)
    echo "usage: $0 update|check" >&2; exit 2 ;;
esac
