/*
 * For the snapshot benchmark: `snapwait.elf`, run with --console virtio,
 * prints "ready" and reads its console until the end of input, then exits
 * 0. Paused and snapshotted while it waits on a pipe, it is a hello-sized
 * guest that a restore with its input on /dev/null finishes at once, as a
 * cold start of it does: the two runs do the same work after start-up.
 */
#include <stdio.h>

int main(void)
{
	printf("ready\n");
	fflush(stdout);
	while (getchar() != EOF) {
	}
	return 0;
}
