/*
 * snapfuzz guest library for Linux user space: find the device in sysfs
 * and map its BARs through the resourceN files.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapfuzz.h"

#define SYSFS_PCI "/sys/bus/pci/devices"

/* "0x1b36\n" */
static long parse_hex(const char *s)
{
    long v = 0;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
    }
    for (; *s && *s != '\n'; s++) {
        int d;

        if (*s >= '0' && *s <= '9') {
            d = *s - '0';
        } else if (*s >= 'a' && *s <= 'f') {
            d = *s - 'a' + 10;
        } else if (*s >= 'A' && *s <= 'F') {
            d = *s - 'A' + 10;
        } else {
            return -1;
        }
        v = v * 16 + d;
    }
    return v;
}

static long read_hex(const char *dir, const char *name)
{
    char path[512], buf[32];
    FILE *f;
    long v = -1;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "r");
    if (f) {
        if (fgets(buf, sizeof(buf), f)) {
            v = parse_hex(buf);
        }
        fclose(f);
    }
    return v;
}

static void *map_bar(const char *dir, int bar, size_t *size)
{
    char path[512];
    struct stat st;
    void *p;
    int fd;

    snprintf(path, sizeof(path), "%s/resource%d", dir, bar);
    fd = open(path, O_RDWR | O_SYNC);
    if (fd < 0) {
        return NULL;
    }
    if (fstat(fd, &st) < 0 || st.st_size <= 0) {
        close(fd);
        return NULL;
    }
    p = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        return NULL;
    }
    *size = st.st_size;
    return p;
}

static int find_device(char *dir, size_t len)
{
    DIR *d = opendir(SYSFS_PCI);
    struct dirent *e;
    int ret = -ENODEV;

    if (!d) {
        return -errno;
    }
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(dir, len, "%s/%s", SYSFS_PCI, e->d_name);
        if (read_hex(dir, "vendor") == SF_VENDOR_ID &&
            read_hex(dir, "device") == SF_DEVICE_ID) {
            ret = 0;
            break;
        }
    }
    closedir(d);
    return ret;
}

/* The bus address of a BAR: line @bar of the device's resource file. */
static uint64_t bar_address(const char *dir, int bar)
{
    char path[600], line[128];
    uint64_t start = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/resource", dir);
    f = fopen(path, "r");
    if (!f) {
        return 0;
    }
    for (int i = 0; i <= bar && fgets(line, sizeof(line), f); i++) {
        /* "START END FLAGS", in hex */
        line[strcspn(line, " ")] = '\0';
        start = parse_hex(line);
    }
    if ((long)start < 0) {
        start = 0;
    }
    fclose(f);
    return start;
}

int sf_open(struct snapfuzz *sf)
{
    char dir[512], path[600];
    size_t regs_size;
    int fd, ret;

    ret = find_device(dir, sizeof(dir));
    if (ret < 0) {
        return ret;
    }
    /* Turn on memory decoding, in case no firmware did. */
    snprintf(path, sizeof(path), "%s/enable", dir);
    fd = open(path, O_WRONLY);
    if (fd >= 0) {
        if (write(fd, "1", 1) != 1) {
            /* Already enabled, or not allowed: try anyway. */
        }
        close(fd);
    }

    sf->regs = map_bar(dir, 0, &regs_size);
    sf->input = map_bar(dir, 1, &sf->input_size);
    sf->cov = map_bar(dir, 2, &sf->cov_size);
    if (!sf->regs || !sf->input || !sf->cov) {
        return -ENXIO;
    }
    if (sf_reg(sf, SF_REG_MAGIC) != SF_MAGIC) {
        return -EPROTO;
    }
    sf->input_phys = bar_address(dir, 1);
    sf->input_size = sf_reg(sf, SF_REG_INPUT_SIZE);
    sf->cov_size = sf_reg(sf, SF_REG_COV_SIZE);
    if (&__afl_area_ptr) {
        __afl_area_ptr = sf->cov;
    }
    return 0;
}
