/*
 * virtio-blk (virtio 1.2, section 5.2): a raw disk image as a virtio block
 * device with one request queue, served asynchronously by blk_backend
 * (io_uring). docs/virtio-blk.md has the features, the request checks and
 * the durability guarantees.
 */
#ifndef PVMM_VIRTIO_BLK_H
#define PVMM_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

struct virtio_dev;
struct virtio_ops;
struct virtio_ctx;
struct virtio_blk;

#define VIRTIO_BLK_QUEUE_MAX 256      /* queue size offered; also the most requests in flight */

/* What one request may cost. A guest chooses its requests' sizes (and can
 * alias one buffer many times), and a reset or teardown waits for every
 * request in flight, so each is capped: at most VIRTIO_BLK_REQ_BYTES_MAX
 * bytes of data, or of discarded / zeroed range, per request; beyond that
 * the answer is IOERR and nothing is submitted. So all the queue in
 * flight is at most 256 x 4 MiB = 1 GiB of host I/O. seg_max and size_max
 * describe the shapes a request may take (many page-sized buffers, as
 * Linux builds them, or one large buffer, as pvmm's runtime does); the cap
 * bounds their total. max_*_seg x max_*_sectors is exactly the cap. */
#define VIRTIO_BLK_REQ_BYTES_MAX (4u << 20)
/* Data segments per request (advertised seg_max). A chain is header, data
 * and status, and must fit the queue the driver set up, yet Linux sizes its
 * chains by seg_max alone: 126 + 2 fits a 128-entry queue, the size QEMU's
 * vhost-user-blk front end uses unless told otherwise. */
#define VIRTIO_BLK_SEG_MAX 126
#define VIRTIO_BLK_SIZE_MAX (1u << 20) /* size_max: the largest one data buffer may be */
#define VIRTIO_BLK_DWZ_SEG_MAX 16     /* segments per discard / write-zeroes request */
/* sectors per such segment: 512 (256 KiB), 16 of them = the cap */
#define VIRTIO_BLK_DWZ_SECTORS_MAX (VIRTIO_BLK_REQ_BYTES_MAX / VIRTIO_BLK_DWZ_SEG_MAX / 512u)

/* Open the image at `path` (read-only if `readonly`) as a virtio-blk
 * device, its completions watched on ctx->io, not yet on a transport.
 * Returns NULL after one log_error line (missing or unusable image, size
 * not a multiple of 512, image locked by another VM). Its device type,
 * for --disk, is virtio_blk_type (devices/device.h). */
struct virtio_dev *virtio_blk_new(const struct virtio_ctx *ctx, const char *path, bool readonly);

/* ---- Below: the same device without a transport, for unit tests. ---- */

/* The device state for `path`; NULL after a log_error line. */
struct virtio_blk *virtio_blk_open(const char *path, bool readonly);
/* Wait for in-flight requests, then free. NULL is fine. */
void virtio_blk_close(struct virtio_blk *blk);
/* The ops to put in a struct virtio_dev whose priv is `blk`. */
const struct virtio_ops *virtio_blk_ops(const struct virtio_blk *blk);
/* The backend's completion eventfd, and the I/O-thread handler for it
 * (opaque: the struct virtio_dev). */
int virtio_blk_event_fd(const struct virtio_blk *blk);
void virtio_blk_io_event(void *opaque, uint32_t events);
/* Test hook: wait up to `timeout_ms` for the completion eventfd, then run
 * the handler as the I/O thread would. Returns 1 if it ran, 0 on timeout. */
int virtio_blk_wait_io(struct virtio_dev *dev, int timeout_ms);
/* Requests taken from the queue whose answer is not yet pushed. */
unsigned virtio_blk_inflight(const struct virtio_blk *blk);
/* The longest poll window (virtio_blk.c, "Polling"), VIRTIO_BLK_POLL_MAX_NS
 * unless set; 0: never poll, serve kicks only (the device as it was before
 * polling: a test that needs requests still in flight after a kick). */
#define VIRTIO_BLK_POLL_MAX_NS 50000
void virtio_blk_set_poll_max(struct virtio_blk *blk, uint64_t ns);

#endif
