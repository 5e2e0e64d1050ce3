import './base.css';
import './catalog.css';
import './pipelines.css';
