/*
 * An xmllint-style libxml2 harness for scripts/bench/snapfuzz-libxml2.sh,
 * built twice against one AFL++-instrumented libxml2.a:
 *
 *   -DSNAPFUZZ_GUEST   a guest's /init: takes inputs from the snapfuzz
 *                      device through libsnapfuzz and ends each with DONE
 *                      (the device restores the VM's snapshot)
 *   otherwise          a program that parses the file argv[1] once and
 *                      exits (afl-fuzz's own fork server, @@)
 *
 * Both run an input through the same function, run_input(); only the way
 * the input arrives differs, and the bench's build excludes that code
 * (main and the functions named in its deny list) from the coverage
 * instrumentation, so that both campaigns count the same edges.
 *
 * An input is two option bytes and a document.  Byte 0 and byte 1 choose
 * parser options and what is done with the tree afterwards (see
 * parse_options and run_input); the rest is parsed with xmlReadMemory.
 * Nothing is loaded from outside the input: the external entity loader
 * refuses everything (the guest has no files to load, the host has
 * different ones), and errors go nowhere.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/c14n.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/valid.h>
#include <libxml/xinclude.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlsave.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

/* Both option bytes: which bit of which byte turns on what. */
static const int byte0_options[8] = {
    XML_PARSE_RECOVER, XML_PARSE_NOENT, XML_PARSE_DTDLOAD, XML_PARSE_DTDATTR,
    XML_PARSE_DTDVALID, XML_PARSE_NOBLANKS, XML_PARSE_SAX1, XML_PARSE_XINCLUDE,
};
static const int byte1_options[4] = {
    XML_PARSE_NSCLEAN, XML_PARSE_NOCDATA, XML_PARSE_OLD10, XML_PARSE_NODICT,
};
#define DO_FORMAT       0x10    /* byte 1: serialise indented */
#define DO_C14N         0x20    /* byte 1: canonicalise (exclusive C14N) */
#define DO_XPATH        0x40    /* byte 1: evaluate a few XPath expressions */
#define DO_VALIDATE     0x80    /* byte 1: validate against the DTD after */

static void quiet_generic(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

static void quiet_structured(void *ctx, const xmlError *error)
{
    (void)ctx;
    (void)error;
}

static xmlParserInputPtr refuse_load(const char *url, const char *id,
                                     xmlParserCtxtPtr ctxt)
{
    (void)url;
    (void)id;
    (void)ctxt;
    return NULL;
}

static int parse_options(uint8_t b0, uint8_t b1)
{
    /* No network, no messages: fixed for every input */
    int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;

    for (int i = 0; i < 8; i++) {
        if (b0 & (1u << i)) {
            opts |= byte0_options[i];
        }
    }
    for (int i = 0; i < 4; i++) {
        if (b1 & (1u << i)) {
            opts |= byte1_options[i];
        }
    }
    return opts;
}

/*
 * Visit every node as a tree walker of a consumer would: names, contents,
 * attributes with their values, namespaces in scope.  Returns a number
 * that depends on all of it, so that none of the calls is dead.
 */
static unsigned long walk(xmlNodePtr node, int depth)
{
    unsigned long sum = 0;

    for (; node; node = node->next) {
        sum += node->type;
        if (node->name) {
            sum += strlen((const char *)node->name);
        }
        switch (node->type) {
        case XML_ELEMENT_NODE: {
            xmlNsPtr *ns = xmlGetNsList(node->doc, node);

            for (xmlAttrPtr a = node->properties; a; a = a->next) {
                xmlChar *v = xmlNodeListGetString(node->doc, a->children, 1);

                if (v) {
                    sum += xmlStrlen(v);
                    xmlFree(v);
                }
                if (a->atype == XML_ATTRIBUTE_ID) {
                    sum++;
                }
            }
            if (ns) {
                for (int i = 0; ns[i]; i++) {
                    sum += xmlStrlen(ns[i]->href);
                }
                xmlFree(ns);
            }
            break;
        }
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
        case XML_COMMENT_NODE:
        case XML_PI_NODE:
            sum += xmlStrlen(node->content);
            break;
        case XML_ENTITY_REF_NODE: {
            xmlChar *v = xmlNodeGetContent(node);

            if (v) {
                sum += xmlStrlen(v);
                xmlFree(v);
            }
            break;
        }
        default:
            break;
        }
        /* Entity references share their children with the entity. */
        if (node->type != XML_ENTITY_REF_NODE && depth < 512) {
            sum += walk(node->children, depth + 1);
        }
    }
    return sum;
}

static unsigned long xpath(xmlDocPtr doc)
{
    static const char *const exprs[] = {
        "count(//*)", "//@*", "//*[@id]/text()", "string(/*[1])",
        "//namespace::*", "//comment() | //processing-instruction()",
    };
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    unsigned long sum = 0;

    if (!ctx) {
        return 0;
    }
    for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
        xmlXPathObjectPtr obj = xmlXPathEval((const xmlChar *)exprs[i], ctx);

        if (obj) {
            sum += obj->type;
            if (obj->nodesetval) {
                sum += obj->nodesetval->nodeNr;
            }
            xmlXPathFreeObject(obj);
        }
    }
    xmlXPathFreeContext(ctx);
    return sum;
}

/* One input: parse, use and free the document.  Same in both builds. */
static unsigned long run_input(const uint8_t *data, size_t len)
{
    unsigned long sum = 0;
    xmlChar *out = NULL;
    xmlDocPtr doc;
    uint8_t b1;
    int opts, size;

    if (len < 2) {
        return 0;
    }
    /*
     * In each input, not once before: the native program is a new process
     * (forked before main) for every input, and the guest's snapshot is
     * taken before the first input, so both initialise libxml2 per input.
     */
    xmlInitParser();
    xmlSetGenericErrorFunc(NULL, quiet_generic);
    xmlSetStructuredErrorFunc(NULL, quiet_structured);
    xmlSetExternalEntityLoader(refuse_load);

    b1 = data[1];
    opts = parse_options(data[0], b1);
    doc = xmlReadMemory((const char *)data + 2, (int)(len - 2), "input.xml",
                        NULL, opts);
    if (!doc) {
        return 0;
    }
    if (opts & XML_PARSE_XINCLUDE) {
        sum += xmlXIncludeProcessFlags(doc, opts);
    }
    sum += walk(doc->children, 0);
    if (b1 & DO_XPATH) {
        sum += xpath(doc);
    }
    if ((b1 & DO_VALIDATE) && doc->intSubset) {
        xmlValidCtxtPtr vctxt = xmlNewValidCtxt();

        if (vctxt) {
            sum += xmlValidateDocument(vctxt, doc);
            xmlFreeValidCtxt(vctxt);
        }
    }
    if (b1 & DO_C14N) {
        size = xmlC14NDocDumpMemory(doc, NULL, XML_C14N_EXCLUSIVE_1_0, NULL,
                                    1, &out);
    } else {
        xmlDocDumpFormatMemory(doc, &out, &size, (b1 & DO_FORMAT) != 0);
    }
    if (out) {
        sum += size;
        xmlFree(out);
    }
    xmlFreeDoc(doc);
    return sum;
}

#ifdef SNAPFUZZ_GUEST
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <unistd.h>

#include "snapfuzz.h"

static struct snapfuzz sf;

static void on_fatal(int sig)
{
    sf_crash(&sf, sig == SIGSEGV ? "SIGSEGV in libxml2"
                  : sig == SIGABRT ? "abort in libxml2"
                  : "fatal signal in libxml2");
    _exit(128 + sig);
}

int main(void)
{
    static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
    struct sigaction sa;
    const uint8_t *in;
    size_t len;
    uint32_t st;
    int ret;

    if (getpid() == 1) {
        mount("sysfs", "/sys", "sysfs", 0, NULL);
        mount("proc", "/proc", "proc", 0, NULL);
    }
    ret = sf_open(&sf);
    if (ret < 0) {
        fprintf(stderr, "harness: no snapfuzz device (%s)\n", strerror(-ret));
        return 1;
    }
    /*
     * The program is resident already (an initramfs is RAM); the heap
     * grows as inputs need it, as the native program's does.
     */
    mlockall(MCL_CURRENT);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_fatal;
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
        sigaction(fatal[i], &sa, NULL);
    }
    while ((st = sf_next_input(&sf, &in, &len)) == SF_ST_OK) {
        /* A heap copy, as the native program reads its file into one. */
        uint8_t *buf = malloc(len ? len : 1);

        if (buf) {
            memcpy(buf, in, len);
            run_input(buf, len);
            free(buf);
        }
        st = sf_done(&sf, 0);
        fprintf(stderr, "harness: DONE failed with status %u\n", st);
        return 1;
    }
    fprintf(stderr, "harness: NEXT_INPUT ended with status %u\n", st);
    return st == SF_ST_EXHAUSTED ? 0 : 1;
}

#else

static uint8_t *read_input(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0, got;

    if (!f) {
        return NULL;
    }
    do {
        if (n == cap) {
            uint8_t *bigger;

            cap = cap ? cap * 2 : 65536;
            bigger = realloc(buf, cap);
            if (!bigger) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = bigger;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    uint8_t *buf;
    size_t len = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    buf = read_input(argv[1], &len);
    if (!buf) {
        perror(argv[1]);
        return 1;
    }
    run_input(buf, len);
    free(buf);
    return 0;
}
#endif
