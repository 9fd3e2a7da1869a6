/* `pvmm ctl --api-sock PATH COMMAND`: a client of the API socket. */
#ifndef PVMM_API_CTL_H
#define PVMM_API_CTL_H

/* Exit statuses (docs/api.md). */
enum ctl_status {
	CTL_OK = 0,
	CTL_REFUSED = 1,     /* the API answered with an error (its fault_message is printed) */
	CTL_USAGE = 2,       /* bad command line */
	CTL_UNREACHABLE = 3, /* no API at that socket, or no valid answer */
};

int ctl_main(int argc, char **argv);

#endif
