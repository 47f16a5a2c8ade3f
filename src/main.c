#include <stdio.h>
#include <string.h>

#include "wxrecon.h"

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "version") == 0) {
		printf("wxrecon %s\n", WXR_VERSION);
		return 0;
	}
	fprintf(stderr, "wxrecon: not built yet\n");
	return 2;
}
