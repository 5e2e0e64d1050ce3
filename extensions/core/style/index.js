import './base.css';
import './catalog.css';
import './connections.css';
import './pipelines.css';
import './builder.css';
import './operations.css';
import './receipts.css';
