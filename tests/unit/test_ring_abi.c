/*
 * The split virtqueue and virtio-mmio ABI is written down twice: the
 * monitor uses the kernel's <linux/virtio_*.h>, the guest runtime its own
 * freestanding guest/include/pvmm/virtio.h. Nothing else ties them
 * together, so this test includes both and checks that every struct size
 * and field offset, and every register offset, flag and feature number
 * the two sides share, is the same.
 *
 * The guest header is included by path (not with -I guest/include, which
 * would put its freestanding libc headers in front of the host's). Macros
 * that both define are captured from the kernel headers first and then
 * undefined; the guest's vring_need_event() is renamed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

/* ---- the kernel's values, before the guest header redefines them ---- */

struct abi_const {
	const char *name;
	unsigned long long value;
};

static const struct abi_const linux_side[] = {
	{ "VIRTIO_MMIO_MAGIC_VALUE", (unsigned long long)(VIRTIO_MMIO_MAGIC_VALUE) },
	{ "VIRTIO_MMIO_VERSION", (unsigned long long)(VIRTIO_MMIO_VERSION) },
	{ "VIRTIO_MMIO_DEVICE_ID", (unsigned long long)(VIRTIO_MMIO_DEVICE_ID) },
	{ "VIRTIO_MMIO_VENDOR_ID", (unsigned long long)(VIRTIO_MMIO_VENDOR_ID) },
	{ "VIRTIO_MMIO_DEVICE_FEATURES", (unsigned long long)(VIRTIO_MMIO_DEVICE_FEATURES) },
	{ "VIRTIO_MMIO_DEVICE_FEATURES_SEL", (unsigned long long)(VIRTIO_MMIO_DEVICE_FEATURES_SEL) },
	{ "VIRTIO_MMIO_DRIVER_FEATURES", (unsigned long long)(VIRTIO_MMIO_DRIVER_FEATURES) },
	{ "VIRTIO_MMIO_DRIVER_FEATURES_SEL", (unsigned long long)(VIRTIO_MMIO_DRIVER_FEATURES_SEL) },
	{ "VIRTIO_MMIO_QUEUE_SEL", (unsigned long long)(VIRTIO_MMIO_QUEUE_SEL) },
	{ "VIRTIO_MMIO_QUEUE_NUM_MAX", (unsigned long long)(VIRTIO_MMIO_QUEUE_NUM_MAX) },
	{ "VIRTIO_MMIO_QUEUE_NUM", (unsigned long long)(VIRTIO_MMIO_QUEUE_NUM) },
	{ "VIRTIO_MMIO_QUEUE_READY", (unsigned long long)(VIRTIO_MMIO_QUEUE_READY) },
	{ "VIRTIO_MMIO_QUEUE_NOTIFY", (unsigned long long)(VIRTIO_MMIO_QUEUE_NOTIFY) },
	{ "VIRTIO_MMIO_INTERRUPT_STATUS", (unsigned long long)(VIRTIO_MMIO_INTERRUPT_STATUS) },
	{ "VIRTIO_MMIO_INTERRUPT_ACK", (unsigned long long)(VIRTIO_MMIO_INTERRUPT_ACK) },
	{ "VIRTIO_MMIO_STATUS", (unsigned long long)(VIRTIO_MMIO_STATUS) },
	{ "VIRTIO_MMIO_QUEUE_DESC_LOW", (unsigned long long)(VIRTIO_MMIO_QUEUE_DESC_LOW) },
	{ "VIRTIO_MMIO_QUEUE_DESC_HIGH", (unsigned long long)(VIRTIO_MMIO_QUEUE_DESC_HIGH) },
	{ "VIRTIO_MMIO_CONFIG_GENERATION", (unsigned long long)(VIRTIO_MMIO_CONFIG_GENERATION) },
	{ "VIRTIO_MMIO_CONFIG", (unsigned long long)(VIRTIO_MMIO_CONFIG) },
	{ "VIRTIO_MMIO_INT_VRING", (unsigned long long)(VIRTIO_MMIO_INT_VRING) },
	{ "VIRTIO_MMIO_INT_CONFIG", (unsigned long long)(VIRTIO_MMIO_INT_CONFIG) },
	{ "VIRTIO_F_VERSION_1", (unsigned long long)(VIRTIO_F_VERSION_1) },
	{ "VIRTIO_F_ACCESS_PLATFORM", (unsigned long long)(VIRTIO_F_ACCESS_PLATFORM) },
	{ "VIRTIO_F_RING_PACKED", (unsigned long long)(VIRTIO_F_RING_PACKED) },
	{ "VIRTIO_ID_NET", (unsigned long long)(VIRTIO_ID_NET) },
	{ "VIRTIO_ID_BLOCK", (unsigned long long)(VIRTIO_ID_BLOCK) },
	{ "VIRTIO_ID_CONSOLE", (unsigned long long)(VIRTIO_ID_CONSOLE) },
	{ "VIRTIO_ID_RNG", (unsigned long long)(VIRTIO_ID_RNG) },
	{ "VIRTIO_BLK_F_SIZE_MAX", (unsigned long long)(VIRTIO_BLK_F_SIZE_MAX) },
	{ "VIRTIO_BLK_F_SEG_MAX", (unsigned long long)(VIRTIO_BLK_F_SEG_MAX) },
	{ "VIRTIO_BLK_F_GEOMETRY", (unsigned long long)(VIRTIO_BLK_F_GEOMETRY) },
	{ "VIRTIO_BLK_F_RO", (unsigned long long)(VIRTIO_BLK_F_RO) },
	{ "VIRTIO_BLK_F_BLK_SIZE", (unsigned long long)(VIRTIO_BLK_F_BLK_SIZE) },
	{ "VIRTIO_BLK_F_FLUSH", (unsigned long long)(VIRTIO_BLK_F_FLUSH) },
	{ "VIRTIO_BLK_F_TOPOLOGY", (unsigned long long)(VIRTIO_BLK_F_TOPOLOGY) },
	{ "VIRTIO_BLK_F_CONFIG_WCE", (unsigned long long)(VIRTIO_BLK_F_CONFIG_WCE) },
	{ "VIRTIO_BLK_F_MQ", (unsigned long long)(VIRTIO_BLK_F_MQ) },
	{ "VIRTIO_BLK_F_DISCARD", (unsigned long long)(VIRTIO_BLK_F_DISCARD) },
	{ "VIRTIO_BLK_F_WRITE_ZEROES", (unsigned long long)(VIRTIO_BLK_F_WRITE_ZEROES) },
	{ "VIRTIO_BLK_T_IN", (unsigned long long)(VIRTIO_BLK_T_IN) },
	{ "VIRTIO_BLK_T_OUT", (unsigned long long)(VIRTIO_BLK_T_OUT) },
	{ "VIRTIO_BLK_T_FLUSH", (unsigned long long)(VIRTIO_BLK_T_FLUSH) },
	{ "VIRTIO_BLK_T_GET_ID", (unsigned long long)(VIRTIO_BLK_T_GET_ID) },
	{ "VIRTIO_BLK_T_DISCARD", (unsigned long long)(VIRTIO_BLK_T_DISCARD) },
	{ "VIRTIO_BLK_T_WRITE_ZEROES", (unsigned long long)(VIRTIO_BLK_T_WRITE_ZEROES) },
	{ "VIRTIO_BLK_S_OK", (unsigned long long)(VIRTIO_BLK_S_OK) },
	{ "VIRTIO_BLK_S_IOERR", (unsigned long long)(VIRTIO_BLK_S_IOERR) },
	{ "VIRTIO_BLK_S_UNSUPP", (unsigned long long)(VIRTIO_BLK_S_UNSUPP) },
	{ "VIRTIO_BLK_ID_BYTES", (unsigned long long)(VIRTIO_BLK_ID_BYTES) },
	{ "VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP", (unsigned long long)(VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) },
	{ "VIRTIO_CONSOLE_F_SIZE", (unsigned long long)(VIRTIO_CONSOLE_F_SIZE) },
	{ "VIRTIO_CONSOLE_F_MULTIPORT", (unsigned long long)(VIRTIO_CONSOLE_F_MULTIPORT) },
	{ "VIRTIO_CONSOLE_F_EMERG_WRITE", (unsigned long long)(VIRTIO_CONSOLE_F_EMERG_WRITE) },
	{ "VIRTIO_MMIO_QUEUE_DRIVER_LOW", (unsigned long long)(VIRTIO_MMIO_QUEUE_AVAIL_LOW) },
	{ "VIRTIO_MMIO_QUEUE_DRIVER_HIGH", (unsigned long long)(VIRTIO_MMIO_QUEUE_AVAIL_HIGH) },
	{ "VIRTIO_MMIO_QUEUE_DEVICE_LOW", (unsigned long long)(VIRTIO_MMIO_QUEUE_USED_LOW) },
	{ "VIRTIO_MMIO_QUEUE_DEVICE_HIGH", (unsigned long long)(VIRTIO_MMIO_QUEUE_USED_HIGH) },
	{ "VIRTIO_F_INDIRECT_DESC", (unsigned long long)(VIRTIO_RING_F_INDIRECT_DESC) },
	{ "VIRTIO_F_EVENT_IDX", (unsigned long long)(VIRTIO_RING_F_EVENT_IDX) },
	{ "VIRTIO_STATUS_ACKNOWLEDGE", (unsigned long long)(VIRTIO_CONFIG_S_ACKNOWLEDGE) },
	{ "VIRTIO_STATUS_DRIVER", (unsigned long long)(VIRTIO_CONFIG_S_DRIVER) },
	{ "VIRTIO_STATUS_DRIVER_OK", (unsigned long long)(VIRTIO_CONFIG_S_DRIVER_OK) },
	{ "VIRTIO_STATUS_FEATURES_OK", (unsigned long long)(VIRTIO_CONFIG_S_FEATURES_OK) },
	{ "VIRTIO_STATUS_DEVICE_NEEDS_RESET", (unsigned long long)(VIRTIO_CONFIG_S_NEEDS_RESET) },
	{ "VIRTIO_STATUS_FAILED", (unsigned long long)(VIRTIO_CONFIG_S_FAILED) },
	{ "VIRTQ_DESC_F_NEXT", (unsigned long long)(VRING_DESC_F_NEXT) },
	{ "VIRTQ_DESC_F_WRITE", (unsigned long long)(VRING_DESC_F_WRITE) },
	{ "VIRTQ_DESC_F_INDIRECT", (unsigned long long)(VRING_DESC_F_INDIRECT) },
	{ "VIRTQ_AVAIL_F_NO_INTERRUPT", (unsigned long long)(VRING_AVAIL_F_NO_INTERRUPT) },
	{ "VIRTQ_USED_F_NO_NOTIFY", (unsigned long long)(VRING_USED_F_NO_NOTIFY) },
	{ "VIRTIO_MMIO_MAGIC", (unsigned long long)(0x74726976u) },
	{ "VIRTIO_BLK_SECTOR_SIZE", (unsigned long long)(512u) },
	{ "VIRTQ_DESC_ALIGN", (unsigned long long)(VRING_DESC_ALIGN_SIZE) },
	{ "VIRTQ_AVAIL_ALIGN", (unsigned long long)(VRING_AVAIL_ALIGN_SIZE) },
	{ "VIRTQ_USED_ALIGN", (unsigned long long)(VRING_USED_ALIGN_SIZE) },
	{ "VIRTIO_BLK_CFG_CAPACITY", (unsigned long long)(offsetof(struct virtio_blk_config, capacity)) },
	{ "VIRTIO_BLK_CFG_SIZE_MAX", (unsigned long long)(offsetof(struct virtio_blk_config, size_max)) },
	{ "VIRTIO_BLK_CFG_SEG_MAX", (unsigned long long)(offsetof(struct virtio_blk_config, seg_max)) },
	{ "VIRTIO_BLK_CFG_BLK_SIZE", (unsigned long long)(offsetof(struct virtio_blk_config, blk_size)) },
	{ "VIRTIO_BLK_CFG_WRITEBACK", (unsigned long long)(offsetof(struct virtio_blk_config, wce)) },
	{ "VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS", (unsigned long long)(offsetof(struct virtio_blk_config, max_discard_sectors)) },
	{ "VIRTIO_BLK_CFG_MAX_DISCARD_SEG", (unsigned long long)(offsetof(struct virtio_blk_config, max_discard_seg)) },
	{ "VIRTIO_BLK_CFG_DISCARD_SECTOR_ALIGNMENT", (unsigned long long)(offsetof(struct virtio_blk_config, discard_sector_alignment)) },
	{ "VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS", (unsigned long long)(offsetof(struct virtio_blk_config, max_write_zeroes_sectors)) },
	{ "VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG", (unsigned long long)(offsetof(struct virtio_blk_config, max_write_zeroes_seg)) },
};

/* The kernel's layouts, under names the guest header does not use. */
typedef struct vring_desc linux_desc;
typedef struct vring_avail linux_avail;
typedef struct vring_used_elem linux_used_elem;
typedef struct vring_used linux_used;
typedef struct virtio_blk_outhdr linux_blk_hdr;
typedef struct virtio_blk_discard_write_zeroes linux_blk_range;

#undef VIRTIO_MMIO_MAGIC_VALUE
#undef VIRTIO_MMIO_VERSION
#undef VIRTIO_MMIO_DEVICE_ID
#undef VIRTIO_MMIO_VENDOR_ID
#undef VIRTIO_MMIO_DEVICE_FEATURES
#undef VIRTIO_MMIO_DEVICE_FEATURES_SEL
#undef VIRTIO_MMIO_DRIVER_FEATURES
#undef VIRTIO_MMIO_DRIVER_FEATURES_SEL
#undef VIRTIO_MMIO_QUEUE_SEL
#undef VIRTIO_MMIO_QUEUE_NUM_MAX
#undef VIRTIO_MMIO_QUEUE_NUM
#undef VIRTIO_MMIO_QUEUE_READY
#undef VIRTIO_MMIO_QUEUE_NOTIFY
#undef VIRTIO_MMIO_INTERRUPT_STATUS
#undef VIRTIO_MMIO_INTERRUPT_ACK
#undef VIRTIO_MMIO_STATUS
#undef VIRTIO_MMIO_QUEUE_DESC_LOW
#undef VIRTIO_MMIO_QUEUE_DESC_HIGH
#undef VIRTIO_MMIO_CONFIG_GENERATION
#undef VIRTIO_MMIO_CONFIG
#undef VIRTIO_MMIO_INT_VRING
#undef VIRTIO_MMIO_INT_CONFIG
#undef VIRTIO_F_VERSION_1
#undef VIRTIO_F_ACCESS_PLATFORM
#undef VIRTIO_F_RING_PACKED
#undef VIRTIO_ID_NET
#undef VIRTIO_ID_BLOCK
#undef VIRTIO_ID_CONSOLE
#undef VIRTIO_ID_RNG
#undef VIRTIO_BLK_F_SIZE_MAX
#undef VIRTIO_BLK_F_SEG_MAX
#undef VIRTIO_BLK_F_GEOMETRY
#undef VIRTIO_BLK_F_RO
#undef VIRTIO_BLK_F_BLK_SIZE
#undef VIRTIO_BLK_F_FLUSH
#undef VIRTIO_BLK_F_TOPOLOGY
#undef VIRTIO_BLK_F_CONFIG_WCE
#undef VIRTIO_BLK_F_MQ
#undef VIRTIO_BLK_F_DISCARD
#undef VIRTIO_BLK_F_WRITE_ZEROES
#undef VIRTIO_BLK_T_IN
#undef VIRTIO_BLK_T_OUT
#undef VIRTIO_BLK_T_FLUSH
#undef VIRTIO_BLK_T_GET_ID
#undef VIRTIO_BLK_T_DISCARD
#undef VIRTIO_BLK_T_WRITE_ZEROES
#undef VIRTIO_BLK_S_OK
#undef VIRTIO_BLK_S_IOERR
#undef VIRTIO_BLK_S_UNSUPP
#undef VIRTIO_BLK_ID_BYTES
#undef VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP
#undef VIRTIO_CONSOLE_F_SIZE
#undef VIRTIO_CONSOLE_F_MULTIPORT
#undef VIRTIO_CONSOLE_F_EMERG_WRITE

#define vring_need_event guest_vring_need_event
#include "../../guest/include/pvmm/virtio.h"
#undef vring_need_event

/* ---- the guest runtime's values, in the same order ---- */

static const struct abi_const guest_side[] = {
	{ "VIRTIO_MMIO_MAGIC_VALUE", (unsigned long long)(VIRTIO_MMIO_MAGIC_VALUE) },
	{ "VIRTIO_MMIO_VERSION", (unsigned long long)(VIRTIO_MMIO_VERSION) },
	{ "VIRTIO_MMIO_DEVICE_ID", (unsigned long long)(VIRTIO_MMIO_DEVICE_ID) },
	{ "VIRTIO_MMIO_VENDOR_ID", (unsigned long long)(VIRTIO_MMIO_VENDOR_ID) },
	{ "VIRTIO_MMIO_DEVICE_FEATURES", (unsigned long long)(VIRTIO_MMIO_DEVICE_FEATURES) },
	{ "VIRTIO_MMIO_DEVICE_FEATURES_SEL", (unsigned long long)(VIRTIO_MMIO_DEVICE_FEATURES_SEL) },
	{ "VIRTIO_MMIO_DRIVER_FEATURES", (unsigned long long)(VIRTIO_MMIO_DRIVER_FEATURES) },
	{ "VIRTIO_MMIO_DRIVER_FEATURES_SEL", (unsigned long long)(VIRTIO_MMIO_DRIVER_FEATURES_SEL) },
	{ "VIRTIO_MMIO_QUEUE_SEL", (unsigned long long)(VIRTIO_MMIO_QUEUE_SEL) },
	{ "VIRTIO_MMIO_QUEUE_NUM_MAX", (unsigned long long)(VIRTIO_MMIO_QUEUE_NUM_MAX) },
	{ "VIRTIO_MMIO_QUEUE_NUM", (unsigned long long)(VIRTIO_MMIO_QUEUE_NUM) },
	{ "VIRTIO_MMIO_QUEUE_READY", (unsigned long long)(VIRTIO_MMIO_QUEUE_READY) },
	{ "VIRTIO_MMIO_QUEUE_NOTIFY", (unsigned long long)(VIRTIO_MMIO_QUEUE_NOTIFY) },
	{ "VIRTIO_MMIO_INTERRUPT_STATUS", (unsigned long long)(VIRTIO_MMIO_INTERRUPT_STATUS) },
	{ "VIRTIO_MMIO_INTERRUPT_ACK", (unsigned long long)(VIRTIO_MMIO_INTERRUPT_ACK) },
	{ "VIRTIO_MMIO_STATUS", (unsigned long long)(VIRTIO_MMIO_STATUS) },
	{ "VIRTIO_MMIO_QUEUE_DESC_LOW", (unsigned long long)(VIRTIO_MMIO_QUEUE_DESC_LOW) },
	{ "VIRTIO_MMIO_QUEUE_DESC_HIGH", (unsigned long long)(VIRTIO_MMIO_QUEUE_DESC_HIGH) },
	{ "VIRTIO_MMIO_CONFIG_GENERATION", (unsigned long long)(VIRTIO_MMIO_CONFIG_GENERATION) },
	{ "VIRTIO_MMIO_CONFIG", (unsigned long long)(VIRTIO_MMIO_CONFIG) },
	{ "VIRTIO_MMIO_INT_VRING", (unsigned long long)(VIRTIO_MMIO_INT_VRING) },
	{ "VIRTIO_MMIO_INT_CONFIG", (unsigned long long)(VIRTIO_MMIO_INT_CONFIG) },
	{ "VIRTIO_F_VERSION_1", (unsigned long long)(VIRTIO_F_VERSION_1) },
	{ "VIRTIO_F_ACCESS_PLATFORM", (unsigned long long)(VIRTIO_F_ACCESS_PLATFORM) },
	{ "VIRTIO_F_RING_PACKED", (unsigned long long)(VIRTIO_F_RING_PACKED) },
	{ "VIRTIO_ID_NET", (unsigned long long)(VIRTIO_ID_NET) },
	{ "VIRTIO_ID_BLOCK", (unsigned long long)(VIRTIO_ID_BLOCK) },
	{ "VIRTIO_ID_CONSOLE", (unsigned long long)(VIRTIO_ID_CONSOLE) },
	{ "VIRTIO_ID_RNG", (unsigned long long)(VIRTIO_ID_RNG) },
	{ "VIRTIO_BLK_F_SIZE_MAX", (unsigned long long)(VIRTIO_BLK_F_SIZE_MAX) },
	{ "VIRTIO_BLK_F_SEG_MAX", (unsigned long long)(VIRTIO_BLK_F_SEG_MAX) },
	{ "VIRTIO_BLK_F_GEOMETRY", (unsigned long long)(VIRTIO_BLK_F_GEOMETRY) },
	{ "VIRTIO_BLK_F_RO", (unsigned long long)(VIRTIO_BLK_F_RO) },
	{ "VIRTIO_BLK_F_BLK_SIZE", (unsigned long long)(VIRTIO_BLK_F_BLK_SIZE) },
	{ "VIRTIO_BLK_F_FLUSH", (unsigned long long)(VIRTIO_BLK_F_FLUSH) },
	{ "VIRTIO_BLK_F_TOPOLOGY", (unsigned long long)(VIRTIO_BLK_F_TOPOLOGY) },
	{ "VIRTIO_BLK_F_CONFIG_WCE", (unsigned long long)(VIRTIO_BLK_F_CONFIG_WCE) },
	{ "VIRTIO_BLK_F_MQ", (unsigned long long)(VIRTIO_BLK_F_MQ) },
	{ "VIRTIO_BLK_F_DISCARD", (unsigned long long)(VIRTIO_BLK_F_DISCARD) },
	{ "VIRTIO_BLK_F_WRITE_ZEROES", (unsigned long long)(VIRTIO_BLK_F_WRITE_ZEROES) },
	{ "VIRTIO_BLK_T_IN", (unsigned long long)(VIRTIO_BLK_T_IN) },
	{ "VIRTIO_BLK_T_OUT", (unsigned long long)(VIRTIO_BLK_T_OUT) },
	{ "VIRTIO_BLK_T_FLUSH", (unsigned long long)(VIRTIO_BLK_T_FLUSH) },
	{ "VIRTIO_BLK_T_GET_ID", (unsigned long long)(VIRTIO_BLK_T_GET_ID) },
	{ "VIRTIO_BLK_T_DISCARD", (unsigned long long)(VIRTIO_BLK_T_DISCARD) },
	{ "VIRTIO_BLK_T_WRITE_ZEROES", (unsigned long long)(VIRTIO_BLK_T_WRITE_ZEROES) },
	{ "VIRTIO_BLK_S_OK", (unsigned long long)(VIRTIO_BLK_S_OK) },
	{ "VIRTIO_BLK_S_IOERR", (unsigned long long)(VIRTIO_BLK_S_IOERR) },
	{ "VIRTIO_BLK_S_UNSUPP", (unsigned long long)(VIRTIO_BLK_S_UNSUPP) },
	{ "VIRTIO_BLK_ID_BYTES", (unsigned long long)(VIRTIO_BLK_ID_BYTES) },
	{ "VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP", (unsigned long long)(VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) },
	{ "VIRTIO_CONSOLE_F_SIZE", (unsigned long long)(VIRTIO_CONSOLE_F_SIZE) },
	{ "VIRTIO_CONSOLE_F_MULTIPORT", (unsigned long long)(VIRTIO_CONSOLE_F_MULTIPORT) },
	{ "VIRTIO_CONSOLE_F_EMERG_WRITE", (unsigned long long)(VIRTIO_CONSOLE_F_EMERG_WRITE) },
	{ "VIRTIO_MMIO_QUEUE_DRIVER_LOW", (unsigned long long)(VIRTIO_MMIO_QUEUE_DRIVER_LOW) },
	{ "VIRTIO_MMIO_QUEUE_DRIVER_HIGH", (unsigned long long)(VIRTIO_MMIO_QUEUE_DRIVER_HIGH) },
	{ "VIRTIO_MMIO_QUEUE_DEVICE_LOW", (unsigned long long)(VIRTIO_MMIO_QUEUE_DEVICE_LOW) },
	{ "VIRTIO_MMIO_QUEUE_DEVICE_HIGH", (unsigned long long)(VIRTIO_MMIO_QUEUE_DEVICE_HIGH) },
	{ "VIRTIO_F_INDIRECT_DESC", (unsigned long long)(VIRTIO_F_INDIRECT_DESC) },
	{ "VIRTIO_F_EVENT_IDX", (unsigned long long)(VIRTIO_F_EVENT_IDX) },
	{ "VIRTIO_STATUS_ACKNOWLEDGE", (unsigned long long)(VIRTIO_STATUS_ACKNOWLEDGE) },
	{ "VIRTIO_STATUS_DRIVER", (unsigned long long)(VIRTIO_STATUS_DRIVER) },
	{ "VIRTIO_STATUS_DRIVER_OK", (unsigned long long)(VIRTIO_STATUS_DRIVER_OK) },
	{ "VIRTIO_STATUS_FEATURES_OK", (unsigned long long)(VIRTIO_STATUS_FEATURES_OK) },
	{ "VIRTIO_STATUS_DEVICE_NEEDS_RESET", (unsigned long long)(VIRTIO_STATUS_DEVICE_NEEDS_RESET) },
	{ "VIRTIO_STATUS_FAILED", (unsigned long long)(VIRTIO_STATUS_FAILED) },
	{ "VIRTQ_DESC_F_NEXT", (unsigned long long)(VIRTQ_DESC_F_NEXT) },
	{ "VIRTQ_DESC_F_WRITE", (unsigned long long)(VIRTQ_DESC_F_WRITE) },
	{ "VIRTQ_DESC_F_INDIRECT", (unsigned long long)(VIRTQ_DESC_F_INDIRECT) },
	{ "VIRTQ_AVAIL_F_NO_INTERRUPT", (unsigned long long)(VIRTQ_AVAIL_F_NO_INTERRUPT) },
	{ "VIRTQ_USED_F_NO_NOTIFY", (unsigned long long)(VIRTQ_USED_F_NO_NOTIFY) },
	{ "VIRTIO_MMIO_MAGIC", (unsigned long long)(VIRTIO_MMIO_MAGIC) },
	{ "VIRTIO_BLK_SECTOR_SIZE", (unsigned long long)(VIRTIO_BLK_SECTOR_SIZE) },
	{ "VIRTQ_DESC_ALIGN", (unsigned long long)(VIRTQ_DESC_ALIGN) },
	{ "VIRTQ_AVAIL_ALIGN", (unsigned long long)(VIRTQ_AVAIL_ALIGN) },
	{ "VIRTQ_USED_ALIGN", (unsigned long long)(VIRTQ_USED_ALIGN) },
	{ "VIRTIO_BLK_CFG_CAPACITY", (unsigned long long)(VIRTIO_BLK_CFG_CAPACITY) },
	{ "VIRTIO_BLK_CFG_SIZE_MAX", (unsigned long long)(VIRTIO_BLK_CFG_SIZE_MAX) },
	{ "VIRTIO_BLK_CFG_SEG_MAX", (unsigned long long)(VIRTIO_BLK_CFG_SEG_MAX) },
	{ "VIRTIO_BLK_CFG_BLK_SIZE", (unsigned long long)(VIRTIO_BLK_CFG_BLK_SIZE) },
	{ "VIRTIO_BLK_CFG_WRITEBACK", (unsigned long long)(VIRTIO_BLK_CFG_WRITEBACK) },
	{ "VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS", (unsigned long long)(VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS) },
	{ "VIRTIO_BLK_CFG_MAX_DISCARD_SEG", (unsigned long long)(VIRTIO_BLK_CFG_MAX_DISCARD_SEG) },
	{ "VIRTIO_BLK_CFG_DISCARD_SECTOR_ALIGNMENT", (unsigned long long)(VIRTIO_BLK_CFG_DISCARD_SECTOR_ALIGNMENT) },
	{ "VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS", (unsigned long long)(VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS) },
	{ "VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG", (unsigned long long)(VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG) },
};

static void test_constants_match(void **state)
{
	(void)state;
	size_t n = sizeof(linux_side) / sizeof(linux_side[0]);
	assert_int_equal(n, sizeof(guest_side) / sizeof(guest_side[0]));
	unsigned bad = 0;
	for (size_t i = 0; i < n; i++) {
		if (linux_side[i].value != guest_side[i].value) {
			print_error("%s: monitor (kernel headers) %#llx, guest runtime %#llx\n", guest_side[i].name,
				    linux_side[i].value, guest_side[i].value);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

#define SAME_SIZE(g, l) assert_int_equal(sizeof(g), sizeof(l))
#define SAME_FIELD(g, l, fg, fl)                                        \
	do {                                                            \
		assert_int_equal(offsetof(g, fg), offsetof(l, fl));     \
		assert_int_equal(sizeof(((g *)0)->fg), sizeof(((l *)0)->fl)); \
	} while (0)

static void test_ring_layouts_match(void **state)
{
	(void)state;
	SAME_SIZE(struct virtq_desc, linux_desc);
	SAME_FIELD(struct virtq_desc, linux_desc, addr, addr);
	SAME_FIELD(struct virtq_desc, linux_desc, len, len);
	SAME_FIELD(struct virtq_desc, linux_desc, flags, flags);
	SAME_FIELD(struct virtq_desc, linux_desc, next, next);

	SAME_SIZE(struct virtq_avail, linux_avail);
	SAME_FIELD(struct virtq_avail, linux_avail, flags, flags);
	SAME_FIELD(struct virtq_avail, linux_avail, idx, idx);
	assert_int_equal(offsetof(struct virtq_avail, ring), offsetof(linux_avail, ring));
	assert_int_equal(sizeof(((struct virtq_avail *)0)->ring[0]), sizeof(((linux_avail *)0)->ring[0]));

	SAME_SIZE(struct virtq_used_elem, linux_used_elem);
	SAME_FIELD(struct virtq_used_elem, linux_used_elem, id, id);
	SAME_FIELD(struct virtq_used_elem, linux_used_elem, len, len);

	SAME_SIZE(struct virtq_used, linux_used);
	SAME_FIELD(struct virtq_used, linux_used, flags, flags);
	SAME_FIELD(struct virtq_used, linux_used, idx, idx);
	assert_int_equal(offsetof(struct virtq_used, ring), offsetof(linux_used, ring));
	assert_int_equal(sizeof(((struct virtq_used *)0)->ring[0]), sizeof(((linux_used *)0)->ring[0]));

	/* Whole-ring sizes (event-idx fields included) against vring_size's
	 * pieces, for every queue size the devices offer. */
	for (unsigned n = 1; n <= 1024; n *= 2) {
		assert_int_equal(VIRTQ_DESC_BYTES(n), n * sizeof(linux_desc));
		assert_int_equal(VIRTQ_AVAIL_BYTES(n), sizeof(linux_avail) + n * sizeof(uint16_t) + 2);
		assert_int_equal(VIRTQ_USED_BYTES(n), sizeof(linux_used) + n * sizeof(linux_used_elem) + 2);
	}
}

static void test_event_idx_rule_matches(void **state)
{
	(void)state;
	/* The same suppression rule on both sides, over a spread of indices
	 * including wrap-around. */
	static const uint16_t v[] = { 0, 1, 2, 3, 7, 8, 0x7fff, 0x8000, 0xfffe, 0xffff };
	for (unsigned a = 0; a < 10; a++)
		for (unsigned b = 0; b < 10; b++)
			for (unsigned c = 0; c < 10; c++)
				assert_int_equal(guest_vring_need_event(v[a], v[b], v[c]),
						 vring_need_event(v[a], v[b], v[c]) != 0);
}

static void test_blk_layouts_match(void **state)
{
	(void)state;
	SAME_SIZE(struct virtio_blk_req_hdr, linux_blk_hdr);
	SAME_FIELD(struct virtio_blk_req_hdr, linux_blk_hdr, type, type);
	SAME_FIELD(struct virtio_blk_req_hdr, linux_blk_hdr, reserved, ioprio);
	SAME_FIELD(struct virtio_blk_req_hdr, linux_blk_hdr, sector, sector);
	SAME_SIZE(struct virtio_blk_range, linux_blk_range);
	SAME_FIELD(struct virtio_blk_range, linux_blk_range, sector, sector);
	SAME_FIELD(struct virtio_blk_range, linux_blk_range, num_sectors, num_sectors);
	SAME_FIELD(struct virtio_blk_range, linux_blk_range, flags, flags);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_constants_match),
		cmocka_unit_test(test_ring_layouts_match),
		cmocka_unit_test(test_event_idx_rule_matches),
		cmocka_unit_test(test_blk_layouts_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
