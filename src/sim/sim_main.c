#include <stdio.h>

int main(void)
{
	fprintf(stderr, "wxrecon-sim: not built yet\n");
	return 2;
}
