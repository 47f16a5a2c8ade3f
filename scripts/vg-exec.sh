#!/bin/sh
# vg-exec.sh TEST - prove --exec helper for `make valgrind`: C unit tests run
# under valgrind memcheck; shell tests run as they are (test-lib.sh wraps each
# wxrecon call in valgrind when WXRECON_VALGRIND=1).
case "$1" in
*.t) exec valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect "$1" ;;
*) exec sh "$1" ;;
esac
