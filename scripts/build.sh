#!/bin/sh
# Builds the native helper (caller context, exact times, xattrs, mknod) and the TypeScript.
set -eu
cd "$(dirname "$0")/.."
mkdir -p build
nodedir=$(dirname "$(dirname "$(command -v node)")")/include/node
if [ ! -f "$nodedir/node_api.h" ]; then
  echo "build: Node's headers are missing ($nodedir/node_api.h); install Node.js with its headers" >&2
  exit 1
fi
if [ ! -f /usr/include/fuse/fuse.h ]; then
  echo "build: FUSE 2 headers are missing; run: apt-get install -y libfuse-dev" >&2
  exit 1
fi
cc -O2 -Wall -Wextra -Werror -shared -fPIC -D_FILE_OFFSET_BITS=64 \
  -DNODE_GYP_MODULE_NAME=persist_native -Wl,--version-script=native/exports.map \
  -I"$nodedir" -I/usr/include/fuse -o build/persist_native.node native/persist_native.c native/attr_cache.c native/kernel_cache.c -ldl -lpthread
npx tsc -p tsconfig.json
