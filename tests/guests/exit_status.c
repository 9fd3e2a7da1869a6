/* Exits with the status given as argv[1] (default 0), by returning from
 * main, or with exit() when argv[2] is "exit". Statuses outside 0..63 make
 * the runtime abort, saying "main returned N, which is above 63 ...:
 * reported as 64". */
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	int status = argc > 1 ? atoi(argv[1]) : 0;
	if (argc > 2 && strcmp(argv[2], "exit") == 0)
		exit(status);
	return status;
}
