extern int poolpair_placeholder_;
