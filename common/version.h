/* version.h - the natter version reported by every role ($SRV.INFO, logs). */
#ifndef NT_VERSION_H
#define NT_VERSION_H
#define NATTER_VERSION "0.1.0"
#endif
