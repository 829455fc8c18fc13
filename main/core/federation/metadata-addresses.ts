/**
 * Cloud metadata services (AWS/GCP/Azure/OpenStack; AWS's and GCP's IPv6), in ipaddr.js's spelling: refused by
 * the address policy whatever the vouch, and never followed as a router's description
 * (reachability/ssdp-location.ts). A module of its own so the gateway worker loads only this.
 */
export const METADATA_ADDRESSES: ReadonlySet<string> = new Set(['169.254.169.254', 'fd00:ec2::254', 'fd20:ce::254', '169.254.170.2', '100.100.100.200']);
